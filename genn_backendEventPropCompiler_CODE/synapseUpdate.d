synapseUpdate.o: synapseUpdate.cc definitions.h
definitions.h:
