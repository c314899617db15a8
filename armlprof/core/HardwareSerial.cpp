#include "HardwareSerial.h"

#include <stdio.h>
#include <string.h>

#include "Arduino.h"

HardwareSerial Serial;

size_t Print::write(const uint8_t *data, size_t n) {
  for (size_t i = 0; i < n; ++i) write(data[i]);
  return n;
}
size_t Print::write(const char *text) { return text ? write(reinterpret_cast<const uint8_t *>(text), strlen(text)) : 0; }
size_t Print::print(const String &text) { return write(text.c_str()); }

static size_t print_unsigned(Print &out, unsigned long long value, int base) {
  char buf[66];
  char *p = buf + sizeof buf - 1;
  *p = '\0';
  if (base < 2 || base > 16) base = 10;
  do {
    *--p = "0123456789ABCDEF"[value % base];
    value /= base;
  } while (value);
  return out.write(p);
}

size_t Print::print(unsigned long value, int base) { return print_unsigned(*this, value, base); }
size_t Print::print(unsigned long long value, int base) { return print_unsigned(*this, value, base); }
size_t Print::print(long value, int base) { return print(static_cast<long long>(value), base); }
size_t Print::print(long long value, int base) {
  if (base == 10 && value < 0) return write('-') + print_unsigned(*this, 0ULL - static_cast<unsigned long long>(value), 10);
  return print_unsigned(*this, static_cast<unsigned long long>(value), base);
}

/* As Arduino's Print::printFloat: rounds to `digits` decimals without printf's float support. */
size_t Print::print(double value, int digits) {
  if (isnan(value)) return write("nan");
  if (isinf(value)) return write("inf");
  if (value > 4294967040.0 || value < -4294967040.0) return write("ovf");
  size_t n = 0;
  if (value < 0.0) {
    n += write('-');
    value = -value;
  }
  double rounding = 0.5;
  for (int i = 0; i < digits; ++i) rounding /= 10.0;
  value += rounding;
  unsigned long whole = static_cast<unsigned long>(value);
  double rest = value - static_cast<double>(whole);
  n += print(whole);
  if (digits > 0) n += write('.');
  while (digits-- > 0) {
    rest *= 10.0;
    unsigned int d = static_cast<unsigned int>(rest);
    n += write(static_cast<uint8_t>('0' + d));
    rest -= d;
  }
  return n;
}

void HardwareSerial::begin(unsigned long baud) { armlprof_console_init(static_cast<uint32_t>(baud)); }

size_t HardwareSerial::write(uint8_t byte) {
  armlprof_console_putc(static_cast<char>(byte));
  return 1;
}

int HardwareSerial::fill() {
  if (peeked_ < 0) peeked_ = armlprof_console_getc();
  return peeked_;
}
int HardwareSerial::available() { return fill() >= 0 ? 1 : 0; }
int HardwareSerial::peek() { return fill(); }
int HardwareSerial::read() {
  int c = fill();
  peeked_ = -1;
  return c;
}

String HardwareSerial::readStringUntil(char terminator) {
  String out;
  unsigned long start = millis();
  while (millis() - start < timeout_ms_) {
    int c = read();
    if (c < 0) continue;
    if (c == terminator) break;
    out += static_cast<char>(c);
    start = millis();  // Arduino's timeout is per character
  }
  return out;
}

String HardwareSerial::readString() { return readStringUntil('\0'); }
