neuronUpdate.o: neuronUpdate.cc definitions.h
definitions.h:
