// Emulator test: fills the heap up to the stack reserve, then recurses deeper than the reserve, so the stack
// grows into the heap. The emulator must stop with stack_heap_collision before "survived" is printed.
#include <stdlib.h>

__attribute__((noinline)) uint32_t deep(uint32_t depth) {
  volatile uint8_t frame[1024];
  frame[0] = (uint8_t)depth;
  frame[1023] = (uint8_t)(depth >> 8);
  if (depth == 0) return frame[0];
  return deep(depth - 1) + frame[1023];
}

void setup() {
  Serial.begin(115200);
  uint32_t heap_bytes = 0;
  while (malloc(1024) != nullptr) heap_bytes += 1024;
  Serial.print("heap_bytes=");
  Serial.println(heap_bytes);
  Serial.println(deep(48));  // 48 KiB of stack > the 32 KiB reserve
  Serial.println("survived");
  exit(0);
}

void loop() {}
