// Emulator regression test: reads const data (linked into flash) with every load form a compiled model uses,
// and prints a checksum. On nano33ble timed mode hooks flash reads for their wait states; the checksum must
// equal functional mode's (and spresense's, where no hook is installed).
//
// The IT-block cases are the bug this guards: a hooked load inside an IT block, with the block's IT state
// ending before the translated block does (flatbuffers' GetOptionalFieldOffset: `ite hi; ldrhhi; movls; bx lr`),
// once leaked the IT state into the next translated block and made its first instructions conditional.
// The first line of input sets the number of passes (default 1), so benchmarks can use it as a flash-read load.
#include <stdint.h>
#include <string.h>

static const uint8_t table[256] __attribute__((aligned(8))) = {
#define ROW(b) (uint8_t)(b * 37 + 11), (uint8_t)(b * 91 + 3), (uint8_t)(b * 13 + 200), (uint8_t)(b * 7 + 129), \
               (uint8_t)(b * 53 + 17), (uint8_t)(b * 29 + 64), (uint8_t)(b * 101 + 250), (uint8_t)(b * 3 + 90)
    ROW(0),  ROW(1),  ROW(2),  ROW(3),  ROW(4),  ROW(5),  ROW(6),  ROW(7),  ROW(8),  ROW(9),  ROW(10),
    ROW(11), ROW(12), ROW(13), ROW(14), ROW(15), ROW(16), ROW(17), ROW(18), ROW(19), ROW(20), ROW(21),
    ROW(22), ROW(23), ROW(24), ROW(25), ROW(26), ROW(27), ROW(28), ROW(29), ROW(30), ROW(31),
#undef ROW
};

static uint32_t mix(uint32_t sum, uint32_t v) { return (sum ^ v) * 16777619u + (v >> 7); }

// Loads inside IT blocks, each followed by a branch so the IT block ends inside the translated block and the
// next one starts with instructions that must run unconditionally (adds, then an add that depends on it).
__attribute__((naked, noinline)) static uint32_t it_loads(const uint8_t *p, uint32_t offset, uint32_t limit) {
  __asm volatile(
      "push {r4-r7, lr}\n"
      "movs r7, #0\n"
      // ite hi + ldrh (GetOptionalFieldOffset)
      "cmp r2, r1\n"
      "ite hi\n"
      "ldrhhi r3, [r0, r1]\n"
      "movls r3, #0\n"
      "b 1f\n"
      "1: adds r7, r7, r3\n"
      "adds r7, r7, #1\n"
      "eor r7, r7, r7, lsl #5\n"
      // itt ne + ldr, ldrd: register offset and doubleword
      "cmp r1, #0\n"
      "itt ne\n"
      "ldrne r3, [r0, #8]\n"
      "ldrdne r4, r5, [r0, #16]\n"
      "b 2f\n"
      "2: adds r7, r7, r3\n"
      "add r7, r7, r4\n"
      "eor r7, r7, r5, ror #3\n"
      // itete: loads on both arms, some not executed
      "cmp r1, #1\n"
      "itete eq\n"
      "ldrbeq r3, [r0, #5]\n"
      "ldrsbne r3, [r0, #6]\n"
      "ldrsheq r4, [r0, #10]\n"
      "ldrhne r4, [r0, #12]\n"
      "b 3f\n"
      "3: adds r7, r7, r3\n"
      "subs r7, r7, r4\n"
      "add r7, r7, #3\n"
      // it + ldm: one load that is the last instruction of its IT block
      "cmp r1, #0\n"
      "it ne\n"
      "ldmne r0, {r3, r4, r5, r6}\n"
      "b 4f\n"
      "4: add r7, r7, r3\n"
      "add r7, r7, r4\n"
      "eor r7, r7, r5\n"
      "add r7, r7, r6, lsl #1\n"
      // a hooked load right before a return, inside a four-instruction IT block
      "cmp r1, #0\n"
      "itttt ne\n"
      "ldrne r3, [r0, #24]\n"
      "addne r7, r7, r3\n"
      "ldrbne r3, [r0, #3]\n"
      "addne r7, r7, r3\n"
      "bl 5f\n"
      "adds r7, r7, #9\n"
      "mov r0, r7\n"
      "pop {r4-r7, pc}\n"
      "5: adds r7, r7, #5\n"
      "lsls r7, r7, #1\n"
      "bx lr\n");
}

// The other load forms, outside IT blocks.
__attribute__((naked, noinline)) static uint32_t plain_loads(const uint8_t *p) {
  __asm volatile(
      "push {r4-r7, lr}\n"
      "ldrd r2, r3, [r0, #8]\n"
      "eor r7, r2, r3\n"
      "ldm r0, {r2, r3, r4}\n"  // LDM
      "add r7, r7, r2\n"
      "add r7, r7, r3, ror #7\n"
      "add r7, r7, r4\n"
      "ldr r2, [r0, #1]\n"  // unaligned word
      "add r7, r7, r2\n"
      "ldr r2, [r0, #3]\n"
      "eor r7, r7, r2\n"
      "ldrh r2, [r0, #5]\n"  // unaligned halfword
      "add r7, r7, r2\n"
      "ldrsh r2, [r0, #14]\n"
      "add r7, r7, r2\n"
      "ldrsb r2, [r0, #31]\n"
      "add r7, r7, r2\n"
      "movs r3, #17\n"
      "ldrb r2, [r0, r3]\n"  // register offset
      "add r7, r7, r2\n"
      "ldr r2, [r0, r3, lsl #2]\n"
      "add r7, r7, r2\n"
      "mov r4, r0\n"
      "ldr r2, [r4], #4\n"  // post-index
      "ldr r3, [r4, #4]!\n"  // pre-index with writeback
      "add r7, r7, r2\n"
      "add r7, r7, r3\n"
      "sub r4, r4, r0\n"
      "add r7, r7, r4\n"
      "mov r4, r0\n"
      "ldmia r4!, {r2, r3, r5, r6}\n"  // LDM with writeback
      "add r7, r7, r6\n"
      "add r7, r7, r2, lsl #3\n"
      "sub r4, r4, r0\n"
      "add r7, r7, r4\n"
      "vldr s0, [r0, #32]\n"  // VLDR / VLDM
      "vmov r2, s0\n"
      "add r7, r7, r2\n"
      "add r2, r0, #40\n"
      "vldmia r2, {s0-s3}\n"
      "vmov r2, s3\n"
      "eor r7, r7, r2\n"
      "vmov r2, s1\n"
      "add r7, r7, r2\n"
      "ldrex r2, [r0, #48]\n"  // exclusive load
      "clrex\n"
      "add r7, r7, r2\n"
      "ldr r2, =0x5a5a1234\n"  // literal pool (PC-relative)
      "add r7, r7, r2\n"
      "mov r0, r7\n"
      "pop {r4-r7, pc}\n"
      ".ltorg\n");
}

// What a compiler makes of int8/int16 reads of const tables, and unaligned memcpy.
__attribute__((noinline)) static uint32_t compiled_loads(const uint8_t *p, unsigned n) {
  uint32_t sum = 0;
  for (unsigned i = 0; i + 8 <= n; i += 3) {
    int8_t s8 = (int8_t)p[i];
    int16_t s16;
    uint32_t u32;
    uint64_t u64;
    memcpy(&s16, p + i + 1, sizeof s16);
    memcpy(&u32, p + i + 2, sizeof u32);
    memcpy(&u64, p + (i & ~7u), sizeof u64);
    sum = mix(sum, (uint32_t)(s8 * 3 + s16) ^ u32);
    sum = mix(sum, (uint32_t)u64 + (uint32_t)(u64 >> 32));
  }
  return sum;
}

void setup() {
  Serial.begin(115200);
  String arg = Serial.readStringUntil('\n');
  int passes = arg.length() ? arg.toInt() : 1;
  uint32_t sum = 2166136261u;
  for (int pass = 0; pass < passes; ++pass) {
    for (unsigned off = 0; off < 184; off += 8) {
      for (uint32_t k = 0; k < 4; ++k) sum = mix(sum, it_loads(table + off, k, 3));
      sum = mix(sum, plain_loads(table + off));
    }
    sum = mix(sum, compiled_loads(table, sizeof table));
  }
  Serial.print("flashloads passes=");
  Serial.print(passes);
  Serial.print(" checksum=");
  Serial.println(sum, 16);
  exit(0);
}

void loop() {}
