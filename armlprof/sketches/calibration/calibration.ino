// armlprof calibration microbenchmarks: each kernel is dominated by one timing parameter of the cycle model
// (armlprof/calibration.py). A plain Arduino sketch: it builds with armlprof's core and with the official cores
// (arduino-cli), and times with the Cortex-M4 DWT cycle counter directly.
//
//   @armlprof event=ready sketch=calibration        -- then one host line: n=<iterations>
//   @armlprof event=calib kernel=<name> cycles=<C>  -- one per kernel
//   @armlprof event=done
#include <Arduino.h>
#include <stdint.h>
#include <stdlib.h>

#define DEMCR_REG (*(volatile uint32_t *)0xE000EDFCu)
#define DWT_CTRL_REG (*(volatile uint32_t *)0xE0001000u)
#define DWT_CYCCNT_REG (*(volatile uint32_t *)0xE0001004u)

static const uint32_t flash_table[1024] = {
#define ROW(i) (i) * 2654435761u, (i) * 40503u + 1u, (i) ^ 0x5a5a5a5au, (i) * 7u + 3u
#define R4(i) ROW(i), ROW(i + 1), ROW(i + 2), ROW(i + 3)
#define R16(i) R4(i), R4(i + 4), R4(i + 8), R4(i + 12)
#define R64(i) R16(i), R16(i + 16), R16(i + 32), R16(i + 48)
    R64(0), R64(64), R64(128), R64(192)};
static uint32_t ram_table[1024];
static volatile uint32_t sink;

// Loads from const data (in flash where the board runs code from flash).
__attribute__((noinline)) static uint32_t k_flash_loads(int n) {
  uint32_t acc = 0;
  for (int r = 0; r < n; ++r)
    for (int i = 0; i < 1024; i += 8) {
      const uint32_t *p = &flash_table[i];
      acc += p[0] + p[1] + p[2] + p[3] + p[4] + p[5] + p[6] + p[7];
    }
  return acc;
}

__attribute__((noinline)) static uint32_t k_ram_loads(int n) {
  uint32_t acc = 0;
  for (int r = 0; r < n; ++r)
    for (int i = 0; i < 1024; i += 8) {
      const uint32_t *p = &ram_table[i];
      acc += p[0] + p[1] + p[2] + p[3] + p[4] + p[5] + p[6] + p[7];
    }
  return acc;
}

__attribute__((noinline)) static uint32_t k_ram_stores(int n) {
  for (int r = 0; r < n; ++r)
    for (int i = 0; i < 1024; i += 8) {
      uint32_t *p = &ram_table[i];
      uint32_t v = (uint32_t)(r + i);
      p[0] = v; p[1] = v; p[2] = v; p[3] = v; p[4] = v; p[5] = v; p[6] = v; p[7] = v;
    }
  return ram_table[5];
}

// A taken branch every few instructions.
__attribute__((noinline)) static uint32_t k_branches(int n) {
  uint32_t acc = 0;
  for (int i = 0; i < n * 1024; ++i) {
    acc += (uint32_t)i;
    __asm__ volatile("" : "+r"(acc));
  }
  return acc;
}

// Straight-line code: fetch-bound (16-bit NOPs, two per fetch word).
__attribute__((noinline)) static uint32_t k_fetch(int n) {
  for (int r = 0; r < n; ++r) {
    __asm__ volatile(".rept 512\n\tnop\n\t.endr" ::: "memory");
  }
  return (uint32_t)n;
}

__attribute__((noinline)) static uint32_t k_malloc_free(int n) {
  uint32_t acc = 0;
  for (int i = 0; i < n * 16; ++i) {
    void *p = malloc(24 + (i & 7) * 8);
    acc += (uint32_t)(uintptr_t)p;
    __asm__ volatile("" : : "r"(p) : "memory");
    free(p);
  }
  return acc;
}

__attribute__((noinline)) static uint32_t k_divide(int n) {
  uint32_t acc = 0;
  volatile uint32_t divisor = 7;
  uint32_t d = divisor;
  for (int i = 1; i <= n * 256; ++i) acc += (0x7fffffffu - (uint32_t)i) / (d + (uint32_t)(i & 3));
  return acc;
}

__attribute__((noinline)) static uint32_t k_fpu(int n) {
  float a = 1.0f, b = 0.999f, c = 0.001f;
  for (int i = 0; i < n * 256; ++i) {
    a = a * b + c;
    __asm__ volatile("" : "+t"(a));
  }
  return (uint32_t)(a * 1000.0f);
}

typedef uint32_t (*kernel_fn)(int);
static const struct {
  const char *name;
  kernel_fn fn;
} kernels[] = {
    {"flash_loads", k_flash_loads}, {"ram_loads", k_ram_loads}, {"ram_stores", k_ram_stores},
    {"branches", k_branches},       {"fetch", k_fetch},         {"malloc_free", k_malloc_free},
    {"divide", k_divide},           {"fpu", k_fpu},
};

void setup() {
  Serial.begin(115200);
  while (!Serial) {
  }
  DEMCR_REG |= 1u << 24;  // TRCENA
  DWT_CTRL_REG |= 1u;     // CYCCNTENA
  Serial.println("@armlprof event=ready sketch=calibration");
  String line = Serial.readStringUntil('\n');
  int n = 4;
  int at = line.indexOf("n=");
  if (at >= 0) n = line.substring(at + 2).toInt();
  if (n < 1) n = 1;
  for (unsigned k = 0; k < sizeof kernels / sizeof kernels[0]; ++k) {
    kernels[k].fn(1);  // warm up (caches, first-touch)
    uint32_t t0 = DWT_CYCCNT_REG;
    sink = kernels[k].fn(n);
    uint32_t cycles = DWT_CYCCNT_REG - t0;
    Serial.print("@armlprof event=calib kernel=");
    Serial.print(kernels[k].name);
    Serial.print(" cycles=");
    Serial.println(cycles);
  }
  Serial.println("@armlprof event=done");
}

void loop() {}
