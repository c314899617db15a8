// Emulator benchmark: an int8 convolution (CMSIS-NN style inner loop, C reference) run `repeats` times.
#include <stdint.h>

#define IN_H 24
#define IN_W 24
#define IN_C 8
#define OUT_C 16
#define K 3

static int8_t input[IN_H * IN_W * IN_C];
static int8_t weights[OUT_C * K * K * IN_C];
static int8_t output[(IN_H - K + 1) * (IN_W - K + 1) * OUT_C];

__attribute__((noinline)) void conv(void) {
  for (int y = 0; y < IN_H - K + 1; ++y)
    for (int x = 0; x < IN_W - K + 1; ++x)
      for (int oc = 0; oc < OUT_C; ++oc) {
        int32_t acc = 0;
        const int8_t *w = &weights[oc * K * K * IN_C];
        for (int ky = 0; ky < K; ++ky)
          for (int kx = 0; kx < K; ++kx) {
            const int8_t *in = &input[((y + ky) * IN_W + (x + kx)) * IN_C];
            for (int c = 0; c < IN_C; ++c) acc += (int32_t)in[c] * w[(ky * K + kx) * IN_C + c];
          }
        acc >>= 7;
        output[(y * (IN_W - K + 1) + x) * OUT_C + oc] = (int8_t)(acc > 127 ? 127 : acc < -128 ? -128 : acc);
      }
}

void setup() {
  Serial.begin(115200);
  uint32_t seed = 1;
  for (unsigned i = 0; i < sizeof input; ++i) input[i] = (int8_t)((seed = seed * 1103515245u + 12345u) >> 24);
  for (unsigned i = 0; i < sizeof weights; ++i) weights[i] = (int8_t)((seed = seed * 1103515245u + 12345u) >> 24);
  String arg = Serial.readStringUntil('\n');
  int repeats = arg.length() ? arg.toInt() : 1;
  uint32_t t0 = micros();
  for (int r = 0; r < repeats; ++r) conv();
  uint32_t t1 = micros();
  uint32_t sum = 0;
  for (unsigned i = 0; i < sizeof output; ++i) sum = sum * 31u + (uint8_t)output[i];
  Serial.print("conv repeats=");
  Serial.print(repeats);
  Serial.print(" us=");
  Serial.print(t1 - t0);
  Serial.print(" checksum=");
  Serial.println(sum, 16);
  exit(0);
}

void loop() {}
