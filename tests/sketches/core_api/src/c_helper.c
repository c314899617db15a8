/* A C source using Arduino.h, as generated model code does. */
#include <Arduino.h>

int c_helper(int x) { return x + (int)(micros() >= 0); }
