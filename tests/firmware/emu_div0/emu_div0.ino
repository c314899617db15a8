// Emulator test: a divide by zero, with SCB->CCR.DIV_0_TRP set on command ('t') or not ('n': the result is 0).
#include <stdint.h>

volatile uint32_t zero = 0;
volatile uint32_t quotient;

void setup() {
  Serial.begin(115200);
  int c;
  while ((c = Serial.read()) < 0) {
  }
  if (c == 't') *(volatile uint32_t *)0xE000ED14u |= (1u << 4);  // CCR.DIV_0_TRP
  quotient = 100u / zero;
  Serial.print("quotient=");
  Serial.println(quotient);
  exit(0);
}

void loop() {}
