// Emulator benchmark and test: console-heavy firmware. Prints the number of lines read from the console (default
// 20), each 64 characters of a running checksum, then the checksum of everything printed.
void setup() {
  Serial.begin(115200);
  String arg = Serial.readStringUntil('\n');
  int lines = arg.length() ? arg.toInt() : 20;
  uint32_t sum = 0;
  for (int n = 0; n < lines; ++n) {
    Serial.print("line ");
    Serial.print(n);
    Serial.print(' ');
    for (int i = 0; i < 48; ++i) {
      char c = (char)('a' + (sum >> 7) % 26);
      Serial.write((uint8_t)c);
      sum = sum * 31u + (uint8_t)c;
    }
    Serial.println();
  }
  Serial.print("print lines=");
  Serial.print(lines);
  Serial.print(" checksum=");
  Serial.println(sum, 16);
  exit(0);
}

void loop() {}
