init.o: init.cc definitions.h
definitions.h:
