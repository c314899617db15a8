// Emulator test: faults on command. Host sends one letter: r = unmapped read, w = write to flash (nano33ble)
// or unmapped write, u = undefined instruction, x = exit(3) (no fault).
#include <stdint.h>

__attribute__((noinline)) uint32_t read_bad(void) { return *(volatile uint32_t *)0xdeadbeefu; }
__attribute__((noinline)) void write_bad(void) { *(volatile uint32_t *)0x60000000u = 1; }
__attribute__((noinline)) void undefined_insn(void) { __asm__ volatile("udf #42"); }

void setup() {
  Serial.begin(115200);
  Serial.println("fault test ready");
  int c;
  while ((c = Serial.read()) < 0) {
  }
  if (c == 'r') Serial.println(read_bad());
  if (c == 'w') write_bad();
  if (c == 'u') undefined_insn();
  exit(3);
}

void loop() {}
