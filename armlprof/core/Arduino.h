/* armlprof's bare-metal Arduino-compatible core: enough of the Arduino API for measurement sketches.
 * Usable from C (generated model code is often C) and C++. */
#ifndef Arduino_h
#define Arduino_h

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ARMLPROF_CORE 1

#define HIGH 0x1
#define LOW 0x0
#define INPUT 0x0
#define OUTPUT 0x1
#define INPUT_PULLUP 0x2
#define LED_BUILTIN 13
#define NUM_DIGITAL_PINS 32

#define DEC 10
#define HEX 16
#define OCT 8
#define BIN 2

#define PI 3.1415926535897932384626433832795

typedef uint8_t byte;
typedef bool boolean;

#ifdef __cplusplus
extern "C" {
#endif

void setup(void);
void loop(void);

/* Time, from the DWT cycle counter extended to 64 bits in software (no interrupts needed; call at least once
 * every 2^32 cycles, i.e. every 67 s at 64 MHz, 27 s at 156 MHz). */
uint64_t armlprof_cycles(void);
unsigned long micros(void);
unsigned long millis(void);
void delay(unsigned long ms);
void delayMicroseconds(unsigned int us);

/* Digital pins: kept as state in RAM (armlprof's boards model no GPIO block; enough for LED blinking sketches). */
void pinMode(uint8_t pin, uint8_t mode);
void digitalWrite(uint8_t pin, uint8_t value);
int digitalRead(uint8_t pin);

static inline void noInterrupts(void) { __asm__ volatile("cpsid i" ::: "memory"); }
static inline void interrupts(void) { __asm__ volatile("cpsie i" ::: "memory"); }

/* Console, unbuffered: used by Serial, printf (_write) and the fault handler. */
void armlprof_console_init(uint32_t baud);
void armlprof_console_putc(char c);
int armlprof_console_getc(void); /* -1 when no byte is waiting */

#ifdef __cplusplus
} /* extern "C" */

template <typename A, typename B>
static inline auto min(A a, B b) -> decltype(a < b ? a : b) { return a < b ? a : b; }
template <typename A, typename B>
static inline auto max(A a, B b) -> decltype(a > b ? a : b) { return a > b ? a : b; }
template <typename T, typename L, typename H>
static inline T constrain(T x, L lo, H hi) { return x < lo ? lo : (x > hi ? hi : x); }

#include "HardwareSerial.h"
#include "WString.h"
#else
#define min(a, b) ((a) < (b) ? (a) : (b))
#define max(a, b) ((a) > (b) ? (a) : (b))
#define constrain(x, lo, hi) ((x) < (lo) ? (lo) : ((x) > (hi) ? (hi) : (x)))
#endif

#endif /* Arduino_h */
