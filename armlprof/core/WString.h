/* A small Arduino String: what sketches use to read console lines. Heap-backed. */
#ifndef WString_h
#define WString_h

#include <stddef.h>

class String {
 public:
  String(const char *text = "");
  String(const String &other);
  String(String &&other) noexcept;
  explicit String(char c);
  explicit String(long value, unsigned char base = 10);
  ~String();
  String &operator=(const String &other);
  String &operator=(String &&other) noexcept;
  String &operator+=(const String &other) { return concat(other.c_str(), other.length()); }
  String &operator+=(const char *text);
  String &operator+=(char c) { return concat(&c, 1); }
  bool operator==(const char *text) const;
  bool operator==(const String &other) const { return *this == other.c_str(); }
  bool operator!=(const char *text) const { return !(*this == text); }
  char operator[](size_t index) const { return index < len_ ? buf_[index] : '\0'; }

  const char *c_str() const { return buf_ ? buf_ : ""; }
  size_t length() const { return len_; }
  long toInt() const;
  float toFloat() const;
  int indexOf(char c, size_t from = 0) const;
  int indexOf(const char *text, size_t from = 0) const;
  String substring(size_t begin, size_t end = (size_t)-1) const;
  bool startsWith(const char *prefix) const;
  void trim();

 private:
  String &concat(const char *text, size_t n);
  bool reserve(size_t capacity);
  char *buf_ = nullptr;
  size_t len_ = 0;
  size_t cap_ = 0;
};

#endif
