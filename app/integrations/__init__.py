"""The only code that talks to outside systems: files, OCR, SMS, Alipay, the ministry."""
