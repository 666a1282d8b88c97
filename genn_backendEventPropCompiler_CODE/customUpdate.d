customUpdate.o: customUpdate.cc definitions.h
definitions.h:
