// Signs every NotificationRequestItem of the notification request on stdin
// with Adyen's official library (@adyen/api-library, HmacValidator) and
// prints the signed request. Usage: node sign.js HEX_HMAC_KEY < request.json
// Used by carfin's tests (PAY-02) to prove that notifications signed the
// way Adyen signs them are accepted.
"use strict";
const { hmacValidator } = require("@adyen/api-library");

const key = process.argv[2];
if (!key) {
  console.error("usage: node sign.js HEX_HMAC_KEY < request.json");
  process.exit(2);
}
let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  const request = JSON.parse(input);
  const validator = new hmacValidator();
  for (const wrapper of request.notificationItems) {
    const item = wrapper.NotificationRequestItem;
    item.additionalData = item.additionalData || {};
    item.additionalData.hmacSignature = validator.calculateHmac(item, key);
    if (!validator.validateHMAC(item, key)) {
      console.error("the library does not validate its own signature");
      process.exit(1);
    }
  }
  process.stdout.write(JSON.stringify(request));
});
