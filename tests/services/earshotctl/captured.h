#pragma once
// Captured: a FILE* that an earshotctl command writes to (its out or err stream) and the test
// reads back. Shared by the earshotctl unit and integration tests.
#include <unistd.h>

#include <cstdio>
#include <string>

#include "gtest/gtest.h"

namespace earshot::testing {

class Captured {
 public:
  Captured() : f_(std::tmpfile()) {}
  ~Captured() { std::fclose(f_); }
  Captured(const Captured&) = delete;
  Captured& operator=(const Captured&) = delete;

  FILE* file() { return f_; }
  // Everything written so far.
  std::string Text() {
    std::fflush(f_);
    std::rewind(f_);
    std::string out;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof(buf), f_)) > 0) out.append(buf, n);
    return out;
  }
  // Everything written so far, and empty again for the next command (same FILE*).
  std::string Take() {
    std::string out = Text();
    std::rewind(f_);
    EXPECT_EQ(ftruncate(fileno(f_), 0), 0);
    return out;
  }

 private:
  FILE* f_;
};

}  // namespace earshot::testing
