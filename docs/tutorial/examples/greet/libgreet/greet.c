#define GREET_BUILDING
#include "greet.h"

int greet(int x) { return x + 1; }
