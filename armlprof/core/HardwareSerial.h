/* Serial on the board's console UART (nano33ble: UART0; spresense: UART1), polled, no interrupts. */
#ifndef HardwareSerial_h
#define HardwareSerial_h

#include <stddef.h>
#include <stdint.h>

class String;

class Print {
 public:
  virtual size_t write(uint8_t byte) = 0;
  size_t write(const uint8_t *data, size_t n);
  size_t write(const char *text);

  size_t print(const char *text) { return write(text); }
  size_t print(const String &text);
  size_t print(char c) { return write(static_cast<uint8_t>(c)); }
  size_t print(int value, int base = 10) { return print(static_cast<long>(value), base); }
  size_t print(unsigned int value, int base = 10) { return print(static_cast<unsigned long>(value), base); }
  size_t print(long value, int base = 10);
  size_t print(unsigned long value, int base = 10);
  size_t print(long long value, int base = 10);
  size_t print(unsigned long long value, int base = 10);
  size_t print(double value, int digits = 2);

  size_t println() { return write("\r\n"); }
  template <typename T>
  size_t println(const T &value) { return print(value) + println(); }
  template <typename T>
  size_t println(const T &value, int format) { return print(value, format) + println(); }
};

class HardwareSerial : public Print {
 public:
  void begin(unsigned long baud);
  void end() {}
  int available();
  int read();
  int peek();
  void flush() {}
  void setTimeout(unsigned long timeout_ms) { timeout_ms_ = timeout_ms; }
  String readStringUntil(char terminator);
  String readString();
  size_t write(uint8_t byte) override;
  using Print::write;
  explicit operator bool() const { return true; }

 private:
  int fill();
  int peeked_ = -1;
  unsigned long timeout_ms_ = 1000;
};

extern HardwareSerial Serial;

#endif
