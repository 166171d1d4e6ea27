"""Chinese identifiers (GB 32100-2015 USCC, GB 11643-1999 ID number, mainland mobile):
their one definition each, accepting ASCII digits only. The ID number's check, with the reason
it fails, is app.services.roster.check_id_number, built from the parts here.

Python's str.isdigit, int() and regex \\d also accept other scripts' digits (Arabic-Indic,
Devanagari ...): one person could be enrolled three times, or one phone get codes three times
past its limits. Full-width digits become ASCII by NFKC before these patterns are applied.
"""
import datetime as dt
import re
import unicodedata

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
ID_NUMBER_CHARS = re.compile(r"[0-9]{17}[0-9X]\Z")
MOBILE = re.compile(r"1[3-9][0-9]{9}\Z")
# Spaces of any width, zero-width characters and dashes people type inside phone numbers.
_MOBILE_NOISE = re.compile(r"[\s\u00a0\u3000\u200b-\u200d\u2060\ufeff\-\u2010-\u2015]+")


def uscc_check_char(first17: str) -> str:
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(first17, _USCC_WEIGHTS))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def normalize_uscc(value: str) -> str:
    return (value or "").strip().upper()


def is_valid_uscc(code: str) -> bool:
    """18 characters from the USCC alphabet with the right check character."""
    if len(code) != 18 or any(c not in USCC_ALPHABET for c in code):
        return False
    return uscc_check_char(code[:17]) == code[17]


def id_check_digit(first17: str) -> str:
    return _ID_CHECK[sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS)) % 11]


def id_birth_date(number: str) -> dt.date | None:
    try:
        return dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return None


def id_gender(number: str) -> str:
    """'male' or 'female' from the 17th digit."""
    return "male" if int(number[16]) % 2 else "female"


def mask_id_number(number: str) -> str:
    """3301**********1234: lists never show a whole ID number."""
    if len(number) < 8:
        return "*" * len(number)
    return number[:4] + "*" * (len(number) - 8) + number[-4:]


def mask_mobile(number: str) -> str:
    """138****8000."""
    if not number or len(number) < 7:
        return number or ""
    return number[:3] + "****" + number[-4:]


def normalize_mobile(value: str) -> str:
    """138-1234-5678, １３８ 1234 5678 -> 13812345678; anything else is left for MOBILE to refuse."""
    return _MOBILE_NOISE.sub("", unicodedata.normalize("NFKC", value or ""))


def is_valid_mobile(number: str) -> bool:
    return bool(MOBILE.match(number))
