/* Time from the DWT cycle counter, extended to 64 bits in software; digital pins as RAM state. */
#include "Arduino.h"
#include "cortex_m.h"

static uint32_t cycles_last;
static uint32_t cycles_high;

void armlprof_dwt_init(void) {
  DEMCR |= DEMCR_TRCENA;
  DWT_CYCCNT = 0;
  DWT_CTRL |= DWT_CTRL_CYCCNTENA;
  cycles_last = 0;
  cycles_high = 0;
}

uint64_t armlprof_cycles(void) {
  uint32_t now = DWT_CYCCNT;
  if (now < cycles_last) cycles_high++;  // wrapped since the previous read
  cycles_last = now;
  return ((uint64_t)cycles_high << 32) | now;
}

#define CYCLES_PER_US (F_CPU / 1000000u)

unsigned long micros(void) { return (unsigned long)(armlprof_cycles() / CYCLES_PER_US); }
unsigned long millis(void) { return (unsigned long)(armlprof_cycles() / (CYCLES_PER_US * 1000u)); }

void delayMicroseconds(unsigned int us) {
  uint64_t end = armlprof_cycles() + (uint64_t)us * CYCLES_PER_US;
  while (armlprof_cycles() < end) {
  }
}

void delay(unsigned long ms) {
  while (ms--) delayMicroseconds(1000);
}

static uint8_t pin_mode[NUM_DIGITAL_PINS];
static uint8_t pin_level[NUM_DIGITAL_PINS];

void pinMode(uint8_t pin, uint8_t mode) {
  if (pin < NUM_DIGITAL_PINS) {
    pin_mode[pin] = mode;
    if (mode == INPUT_PULLUP) pin_level[pin] = HIGH;
  }
}

void digitalWrite(uint8_t pin, uint8_t value) {
  if (pin < NUM_DIGITAL_PINS && pin_mode[pin] == OUTPUT) pin_level[pin] = value ? HIGH : LOW;
}

int digitalRead(uint8_t pin) { return pin < NUM_DIGITAL_PINS ? pin_level[pin] : LOW; }
