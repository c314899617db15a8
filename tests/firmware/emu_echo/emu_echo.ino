// Emulator test: echoes console input back upper-cased, one line at a time.
String line;

void setup() {
  Serial.begin(115200);
  Serial.println("echo ready");
}

void loop() {
  int c = Serial.read();
  if (c < 0) return;
  if (c == '\n') {
    Serial.print("echo: ");
    Serial.println(line);
    line = "";
  } else {
    if (c >= 'a' && c <= 'z') c -= 32;
    line += (char)c;
  }
}
