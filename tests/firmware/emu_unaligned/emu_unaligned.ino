// Emulator test: one access through buf + 1 (not word-aligned), chosen by the first byte of input. A Cortex-M4
// takes a UsageFault (UNALIGNED) on the multi-word and FP forms whatever CCR says; LDR, STR and LDRH may be
// unaligned (CCR.UNALIGN_TRP clear, its reset value). Prints "value=" and exits when the access completes.
#include <stdint.h>

static uint8_t buf[32] __attribute__((aligned(8))) = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

__attribute__((noinline)) static uint32_t access(int c, uint8_t *p) {
  uint32_t a = 0, b = 0;
  switch (c) {
    case 'l': __asm volatile("ldr %0, [%1]" : "=r"(a) : "r"(p) : "memory"); break;
    case 'h': __asm volatile("ldrh %0, [%1]" : "=r"(a) : "r"(p) : "memory"); break;
    case 's': __asm volatile("str %1, [%0]" : : "r"(p), "r"(0x11223344u) : "memory"); a = p[0]; break;
    case 'd': __asm volatile("ldrd %0, %1, [%2]" : "=r"(a), "=r"(b) : "r"(p) : "memory"); break;
    case 'D': __asm volatile("strd %0, %1, [%2]" : : "r"(1u), "r"(2u), "r"(p) : "memory"); break;
    case 'm': __asm volatile("ldm %2, {%0, %1}" : "=r"(a), "=r"(b) : "r"(p) : "memory"); break;
    case 'M': __asm volatile("stm %0, {%1, %2}" : : "r"(p), "r"(1u), "r"(2u) : "memory"); break;
    case 'v': __asm volatile("vldr s0, [%1]\n\tvmov %0, s0" : "=r"(a) : "r"(p) : "s0", "memory"); break;
    case 'V': __asm volatile("vldmia %1, {s0-s1}\n\tvmov %0, s1" : "=r"(a) : "r"(p) : "s0", "s1", "memory"); break;
    default: break;
  }
  return a + b;
}

void setup() {
  Serial.begin(115200);
  int c;
  while ((c = Serial.read()) < 0) {
  }
  uint32_t v = access(c, buf + 1);
  Serial.print("value=");
  Serial.println(v);
  exit(0);
}

void loop() {}
