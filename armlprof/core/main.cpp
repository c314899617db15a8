/* Arduino's main: setup() once, loop() forever. */
#include "Arduino.h"

int main(void) {
  setup();
  for (;;) loop();
  return 0;
}
