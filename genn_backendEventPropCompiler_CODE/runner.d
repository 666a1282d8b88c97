runner.o: runner.cc definitions.h
definitions.h:
