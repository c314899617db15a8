#include "WString.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

String::String(const char *text) { concat(text ? text : "", text ? strlen(text) : 0); }
String::String(const String &other) { concat(other.c_str(), other.len_); }
String::String(String &&other) noexcept : buf_(other.buf_), len_(other.len_), cap_(other.cap_) {
  other.buf_ = nullptr;
  other.len_ = other.cap_ = 0;
}
String::String(char c) { concat(&c, 1); }
String::String(long value, unsigned char base) {
  char tmp[34];
  if (base == 16)
    snprintf(tmp, sizeof tmp, "%lx", value);
  else
    snprintf(tmp, sizeof tmp, "%ld", value);
  concat(tmp, strlen(tmp));
}
String::~String() { free(buf_); }

String &String::operator=(const String &other) {
  if (this != &other) {
    len_ = 0;
    concat(other.c_str(), other.len_);
  }
  return *this;
}
String &String::operator=(String &&other) noexcept {
  if (this != &other) {
    free(buf_);
    buf_ = other.buf_;
    len_ = other.len_;
    cap_ = other.cap_;
    other.buf_ = nullptr;
    other.len_ = other.cap_ = 0;
  }
  return *this;
}
String &String::operator+=(const char *text) { return concat(text, strlen(text)); }

bool String::reserve(size_t capacity) {
  if (capacity <= cap_ && buf_) return true;
  size_t grown = cap_ ? cap_ * 2 : 16;
  if (grown < capacity) grown = capacity;
  char *p = static_cast<char *>(realloc(buf_, grown + 1));
  if (!p) return false;  // out of memory: the string keeps its old contents
  buf_ = p;
  cap_ = grown;
  return true;
}

String &String::concat(const char *text, size_t n) {
  if (!reserve(len_ + n)) return *this;
  memcpy(buf_ + len_, text, n);
  len_ += n;
  buf_[len_] = '\0';
  return *this;
}

bool String::operator==(const char *text) const { return strcmp(c_str(), text ? text : "") == 0; }
long String::toInt() const { return strtol(c_str(), nullptr, 10); }
float String::toFloat() const { return strtof(c_str(), nullptr); }

int String::indexOf(char c, size_t from) const {
  for (size_t i = from; i < len_; ++i)
    if (buf_[i] == c) return static_cast<int>(i);
  return -1;
}
int String::indexOf(const char *text, size_t from) const {
  if (from > len_) return -1;
  const char *hit = strstr(c_str() + from, text);
  return hit ? static_cast<int>(hit - c_str()) : -1;
}
String String::substring(size_t begin, size_t end) const {
  if (end > len_) end = len_;
  String out;
  if (begin < end) out.concat(c_str() + begin, end - begin);
  return out;
}
bool String::startsWith(const char *prefix) const { return strncmp(c_str(), prefix, strlen(prefix)) == 0; }
void String::trim() {
  size_t b = 0, e = len_;
  while (b < e && (buf_[b] == ' ' || buf_[b] == '\t' || buf_[b] == '\r' || buf_[b] == '\n')) ++b;
  while (e > b && (buf_[e - 1] == ' ' || buf_[e - 1] == '\t' || buf_[e - 1] == '\r' || buf_[e - 1] == '\n')) --e;
  if (b > 0 && e > b) memmove(buf_, buf_ + b, e - b);
  len_ = e - b;
  if (buf_) buf_[len_] = '\0';
}
