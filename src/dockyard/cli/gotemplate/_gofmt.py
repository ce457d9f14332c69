"""Go's fmt package over Python data: Sprint, Sprintln, Sprintf and the %v of every value.

Templates print values the way Go's fmt does, so this module is the reference for
what the user sees: maps as map[k:v] with sorted keys, slices as [a b], nil as
<nil>, floats as %v's shortest 'g' (1e+06), and printf's verbs, flags, widths and
its in-band errors (%!d(string=x), %!s(MISSING), %!(EXTRA int=1)).

Python stands in for Go's types: str is string, int is int, float is float64,
bool is bool, None is a nil interface{}, list/tuple are []interface {} and dict
is map[string]interface {}. Other objects print through str(), as a Go Stringer.
"""

from __future__ import annotations

import math

# typing costs milliseconds of start-up: its names are only for annotations.
TYPE_CHECKING = False

if TYPE_CHECKING:
    from typing import Any

NIL_ANGLE = "<nil>"


def type_name(v: Any) -> str:
    """Go's reflect type name of a value (for %T and error messages)."""
    if v is None:
        return "interface {}"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return getattr(v, "go_type", "int")
    if isinstance(v, float):
        return "float64"
    if isinstance(v, complex):
        return "complex128"
    if isinstance(v, str):
        return "string"
    if isinstance(v, (list, tuple)):
        return "[]string" if v and all(isinstance(x, str) for x in v) else "[]interface {}"
    if isinstance(v, dict):
        return "map[string]interface {}"
    return getattr(v, "go_type", type(v).__name__)


def sprint(*args: Any) -> str:
    """fmt.Sprint: spaces between operands when neither side is a string."""
    out = []
    prev_string = True
    for i, arg in enumerate(args):
        is_string = isinstance(arg, str)
        if i > 0 and not is_string and not prev_string:
            out.append(" ")
        out.append(format_value(arg))
        prev_string = is_string
    return "".join(out)


def sprintln(*args: Any) -> str:
    return " ".join(format_value(a) for a in args) + "\n"


def format_value(v: Any) -> str:
    """%v of one value."""
    if isinstance(v, str):
        return v
    p = _Printer()
    p.print_arg(v, "v")
    return "".join(p.buf)


def sprintf(fmt: str, *args: Any) -> str:
    p = _Printer()
    p.do_printf(fmt, args)
    return "".join(p.buf)


def quote(s: str, ascii_only: bool = False) -> str:
    """strconv.Quote (QuoteToASCII when ascii_only)."""
    return '"' + _escape(s, '"', ascii_only) + '"'


def quote_rune(r: int, ascii_only: bool = False) -> str:
    if not 0 <= r <= 0x10FFFF or 0xD800 <= r < 0xE000:
        r = 0xFFFD
    return "'" + _escape(chr(r), "'", ascii_only) + "'"


_ESCAPES = {"\a": r"\a", "\b": r"\b", "\f": r"\f", "\n": r"\n", "\r": r"\r", "\t": r"\t", "\v": r"\v", "\\": "\\\\"}


def _escape(s: str, q: str, ascii_only: bool) -> str:
    out = []
    for c in s:
        if c == q:
            out.append("\\" + c)
        elif c in _ESCAPES:
            out.append(_ESCAPES[c])
        elif c.isprintable() and not (ascii_only and ord(c) >= 0x80):
            out.append(c)
        elif ord(c) < 0x80:
            out.append(f"\\x{ord(c):02x}")
        elif ord(c) < 0x10000:
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(f"\\U{ord(c):08x}")
    return "".join(out)


def can_backquote(s: str) -> bool:
    return all(c == "\t" or (c != "`" and c != "\ufeff" and c.isprintable()) for c in s)


def float_g(x: float, upper: bool = False) -> str:
    """strconv.FormatFloat(x, 'g', -1, 64): the shortest digits, %e below 1e-4 and from 1e+06 up."""
    if math.isinf(x):
        return "+Inf" if x > 0 else "-Inf"
    if math.isnan(x):
        return "NaN"
    sign = "-" if math.copysign(1.0, x) < 0 else ""
    digits, dp = shortest_digits(abs(x))
    exp = dp - 1
    if exp < -4 or exp >= 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        text = f"{mantissa}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    elif dp <= 0:
        text = "0." + "0" * -dp + digits
    elif dp >= len(digits):
        text = digits + "0" * (dp - len(digits))
    else:
        text = digits[:dp] + "." + digits[dp:]
    return sign + (text.upper() if upper else text)


def float_hex(x: float, prec: int | None = None, upper: bool = False) -> str:
    """strconv.FormatFloat(x, 'x', prec, 64): "0x1.4p+01"; the shortest mantissa without a precision."""
    sign = "-" if math.copysign(1.0, x) < 0 else ""
    if x == 0:
        frac, exp, digits_count = 0, 0, 13
        lead = 0
    else:
        m, e = math.frexp(abs(x))
        mant = int(m * (1 << 53))  # 53 bits, the leading one at bit 52
        lead, frac, exp = 1, mant - (1 << 52), e - 1
        digits_count = 13
    if prec is not None and prec < digits_count:
        shift = 4 * (digits_count - prec)
        q, r = divmod(frac, 1 << shift)
        half = 1 << (shift - 1)
        last = q if prec else lead  # the last digit kept decides a tie (round half to even)
        if r > half or (r == half and last & 1):
            q += 1
        if q == 1 << (4 * prec):  # the rounding carried into the leading digit
            q, exp = 0, exp + 1
        frac, digits_count = q, prec
    digits = f"{frac:0{digits_count}x}" if digits_count else ""
    if prec is None:
        digits = digits.rstrip("0")
    elif prec > digits_count:
        digits += "0" * (prec - digits_count)
    text = f"0x{lead}" + ("." + digits if digits else "") + f"p{'-' if exp < 0 else '+'}{abs(exp):02d}"
    return sign + (text.upper() if upper else text)


def float_binary(x: float) -> str:
    """strconv.FormatFloat(x, 'b', -1, 64): the integer mantissa and the power of two, "-4537899042132550p-65"."""
    sign = "-" if math.copysign(1.0, x) < 0 else ""
    if x == 0:
        return f"{sign}0p-1074"
    m, e = math.frexp(abs(x))
    if e < -1021:  # subnormal: the mantissa as stored, the smallest exponent
        return f"{sign}{int(math.ldexp(abs(x), 1074))}p-1074"
    return f"{sign}{int(m * (1 << 53))}p{e - 53:+d}"


def shortest_digits(x: float) -> tuple[str, int]:
    """The shortest round-tripping decimal digits of x >= 0 and the position of the point."""
    if x == 0:
        return "0", 1
    mantissa, _, exp = repr(x).partition("e")
    whole, _, frac = mantissa.partition(".")
    digits = whole + frac
    dp = len(whole) + (int(exp) if exp else 0)
    stripped = digits.lstrip("0")
    dp -= len(digits) - len(stripped)
    return stripped.rstrip("0") or "0", dp


class _Printer:
    """One fmt.pp: the output buffer and the flags of the verb being printed."""

    def __init__(self) -> None:
        self.buf: list[str] = []
        self.clear_flags()

    def clear_flags(self) -> None:
        self.minus = self.plus = self.sharp = self.space = self.zero = False
        self.plus_v = self.sharp_v = False
        self.wid: int | None = None
        self.prec: int | None = None

    # --- padding

    def pad(self, s: str) -> None:
        if self.wid is None or self.wid <= len(s):
            self.buf.append(s)
        elif self.minus:
            self.buf.append(s + " " * (self.wid - len(s)))
        else:
            self.buf.append(("0" if self.zero else " ") * (self.wid - len(s)) + s)

    def pad_spaces(self, s: str) -> None:
        zero, self.zero = self.zero, False
        self.pad(s)
        self.zero = zero

    # --- one argument

    def print_arg(self, arg: Any, verb: str) -> None:
        if arg is None:
            if verb in "Tv":
                self.pad(NIL_ANGLE)
            else:
                self.bad_verb(arg, verb)
            return
        if verb == "T":
            self.fmt_string(type_name(arg), "s")
        elif verb == "p":
            self.bad_verb(arg, verb)
        else:
            self.print_value(arg, verb, 0)

    def print_value(self, v: Any, verb: str, depth: int) -> None:
        if v is None:
            # A nil interface{} inside a slice or map.
            # Go writes it as is, without the verb's width.
            self.buf.append("interface {}(nil)" if self.sharp_v else NIL_ANGLE)
        elif isinstance(v, bool):
            if verb in "tv":
                self.pad("true" if v else "false")
            else:
                self.bad_verb(v, verb)
        elif isinstance(v, int):
            self.fmt_int(v, verb)
        elif isinstance(v, float):
            self.fmt_float(v, verb)
        elif isinstance(v, complex):
            self.fmt_complex(v, verb)
        elif isinstance(v, str):
            self.fmt_string(v, verb)
        elif isinstance(v, (list, tuple)):
            self.fmt_list(v, verb, depth)
        elif isinstance(v, dict):
            self.fmt_map(v, verb, depth)
        elif verb in "vsxXq":
            self.fmt_string(str(v), "s" if verb == "v" else verb)
        else:
            self.bad_verb(v, verb)

    def bad_verb(self, v: Any, verb: str) -> None:
        self.buf.append("%!" + verb + "(")
        if v is None:
            self.buf.append(NIL_ANGLE)
        else:
            self.buf.append(type_name(v) + "=")
            self.print_arg(v, "v")
        self.buf.append(")")

    def fmt_list(self, v: list | tuple, verb: str, depth: int) -> None:
        if self.sharp_v:
            self.buf.append(type_name(v) + "{")
            for i, e in enumerate(v):
                if i:
                    self.buf.append(", ")
                self.print_value(e, verb, depth + 1)
            self.buf.append("}")
            return
        self.buf.append("[")
        for i, e in enumerate(v):
            if i:
                self.buf.append(" ")
            self.print_value(e, verb, depth + 1)
        self.buf.append("]")

    def fmt_map(self, v: dict, verb: str, depth: int) -> None:
        self.buf.append(type_name(v) + "{" if self.sharp_v else "map[")
        for i, key in enumerate(sorted(v, key=_map_key_order)):
            if i:
                self.buf.append(", " if self.sharp_v else " ")
            self.print_value(key, verb, depth + 1)
            self.buf.append(":")
            self.print_value(v[key], verb, depth + 1)
        self.buf.append("}" if self.sharp_v else "]")

    # --- scalars

    def fmt_string(self, s: str, verb: str) -> None:
        if verb == "v" and self.sharp_v:
            self.pad(quote(s))
            return
        if verb in "vs":
            if self.prec is not None:
                s = s[: self.prec]
            self.pad(s)
        elif verb in "xX":
            self.fmt_hex_bytes(s.encode(), verb)
        elif verb == "q":
            if self.prec is not None:
                s = s[: self.prec]
            if self.sharp and can_backquote(s):
                self.pad("`" + s + "`")
            else:
                self.pad(quote(s, ascii_only=self.plus))
        else:
            self.bad_verb(s, verb)

    def fmt_hex_bytes(self, data: bytes, verb: str) -> None:
        if self.prec is not None:
            data = data[: self.prec]
        digits = "0123456789abcdef" if verb == "x" else "0123456789ABCDEF"
        prefix = ("0x" if verb == "x" else "0X") if self.sharp else ""
        if self.space:
            text = " ".join(prefix + digits[b >> 4] + digits[b & 15] for b in data)
        else:
            text = prefix * bool(data) + "".join(digits[b >> 4] + digits[b & 15] for b in data)
        self.pad(text)

    def fmt_int(self, v: int, verb: str) -> None:
        if verb in "vd":
            self.fmt_integer(v, 10, verb, "0123456789")
        elif verb == "b":
            self.fmt_integer(v, 2, verb, "01")
        elif verb in "oO":
            self.fmt_integer(v, 8, verb, "01234567")
        elif verb == "x":
            self.fmt_integer(v, 16, verb, "0123456789abcdef")
        elif verb == "X":
            self.fmt_integer(v, 16, verb, "0123456789ABCDEF")
        elif verb == "c":
            self.pad(chr(v) if 0 <= v <= 0x10FFFF and not 0xD800 <= v < 0xE000 else "\ufffd")
        elif verb == "q":
            self.pad(quote_rune(v, ascii_only=self.plus))
        elif verb == "U":
            text = f"U+{v & 0xFFFFFFFFFFFFFFFF:04X}"  # Go prints the uint64 of a negative number
            if self.sharp and 0 <= v <= 0x10FFFF and chr(v).isprintable():
                text += f" '{chr(v)}'"
            self.pad_spaces(text)
        else:
            self.bad_verb(v, verb)

    def fmt_integer(self, v: int, base: int, verb: str, digits: str) -> None:
        negative = v < 0
        u = -v if negative else v
        prec = 0
        if self.prec is not None:
            prec = self.prec
            if prec == 0 and u == 0:
                self.pad_spaces("")
                return
        elif self.zero and self.wid is not None:
            prec = self.wid - (1 if negative or self.plus or self.space else 0)
        out = []
        while u:
            out.append(digits[u % base])
            u //= base
        text = "".join(reversed(out)) or "0"
        text = "0" * (prec - len(text)) + text
        if self.sharp:
            if base == 2:
                text = "0b" + text
            elif base == 8 and text[0] != "0":
                text = "0" + text
            elif base == 16:
                text = ("0x" if verb == "x" else "0X") + text
        if verb == "O":
            text = "0o" + text
        if negative:
            text = "-" + text
        elif self.plus:
            text = "+" + text
        elif self.space:
            text = " " + text
        self.pad_spaces(text)

    def fmt_float(self, v: float, verb: str) -> None:
        if verb == "v":
            self.fmt_float_text(v, "g", None if self.prec is None else self.prec)
        elif verb in "gG":
            self.fmt_float_text(v, verb, self.prec)
        elif verb in "eEfF":
            self.fmt_float_text(v, verb, 6 if self.prec is None else self.prec)
        elif verb in "xX" and not (math.isinf(v) or math.isnan(v)):
            num = float_hex(v, self.prec, upper=verb == "X")
            if not num.startswith("-"):
                num = ("+" if self.plus else " " if self.space else "") + num
            self.pad(num)
        elif verb in "xX":
            self.fmt_float_text(v, "g", None)
        elif verb == "b":
            num = float_binary(v)
            if not num.startswith("-"):
                num = ("+" if self.plus else " " if self.space else "") + num
            self.pad(num)
        else:
            self.bad_verb(v, verb)

    def fmt_float_text(self, v: float, verb: str, prec: int | None) -> None:
        if math.isinf(v) or math.isnan(v):
            text = "NaN" if math.isnan(v) else ("+Inf" if v > 0 else "-Inf")
            if text == "NaN" and (self.plus or self.space):
                text = ("+" if self.plus else " ") + text
            elif text == "+Inf" and not self.plus:
                text = " Inf" if self.space else "Inf"
            self.pad_spaces(text)
            return
        if prec is None:
            num = float_g(v, upper=verb == "G")
        else:
            py_verb = "f" if verb == "F" else verb
            num = f"{v:{'#' if self.sharp else ''}.{prec}{py_verb}}"
        if not num.startswith("-"):
            num = ("+" if self.plus else " " if self.space else "") + num
        if self.zero and self.wid is not None and self.wid > len(num) and num[0] in "+- ":
            self.buf.append(num[0] + "0" * (self.wid - len(num)) + num[1:])
        else:
            self.pad(num)

    def fmt_complex(self, v: complex, verb: str) -> None:
        if verb not in "vgGeEfF":
            self.bad_verb(v, verb)
            return
        parts = []
        for part, plus in ((v.real, self.plus), (v.imag, True)):
            sub = _Printer()
            sub.plus, sub.space, sub.sharp, sub.prec = plus, self.space, self.sharp, self.prec
            sub.fmt_float(part, verb)
            parts.append("".join(sub.buf))
        self.pad("(" + parts[0] + parts[1] + "i)")

    # --- Printf

    def do_printf(self, fmt: str, args: tuple) -> None:
        end = len(fmt)
        arg_num = 0
        reordered = False
        i = 0
        while i < end:
            lasti = i
            i = fmt.find("%", i)
            if i < 0:
                i = end
            if i > lasti:
                self.buf.append(fmt[lasti:i])
            if i >= end:
                break
            i += 1
            self.clear_flags()
            while i < end and fmt[i] in "#0+- ":
                c = fmt[i]
                if c == "#":
                    self.sharp = True
                elif c == "0":
                    self.zero = not self.minus
                elif c == "+":
                    self.plus = True
                elif c == "-":
                    self.minus, self.zero = True, False
                else:
                    self.space = True
                i += 1
            good_arg_num = True
            arg_num, i, after_index, ok, r = _arg_number(arg_num, fmt, i, len(args))
            reordered |= r
            good_arg_num &= ok
            if i < end and fmt[i] == "*":
                i += 1
                self.wid, arg_num = _int_from_arg(args, arg_num)
                if self.wid is None:
                    self.buf.append("%!(BADWIDTH)")
                elif self.wid < 0:
                    self.wid, self.minus, self.zero = -self.wid, True, False
                after_index = False
            else:
                self.wid, i = _parse_num(fmt, i, end)
                if after_index and self.wid is not None:
                    good_arg_num = False
            if i + 1 < end and fmt[i] == ".":
                i += 1
                if after_index:
                    good_arg_num = False
                arg_num, i, after_index, ok, r = _arg_number(arg_num, fmt, i, len(args))
                reordered |= r
                good_arg_num &= ok
                if i < end and fmt[i] == "*":
                    i += 1
                    self.prec, arg_num = _int_from_arg(args, arg_num)
                    if self.prec is not None and self.prec < 0:
                        self.prec = None
                    if self.prec is None:
                        self.buf.append("%!(BADPREC)")
                    after_index = False
                else:
                    self.prec, i = _parse_num(fmt, i, end)
                    if self.prec is None:
                        self.prec = 0
            if not after_index:
                arg_num, i, after_index, ok, r = _arg_number(arg_num, fmt, i, len(args))
                reordered |= r
                good_arg_num &= ok
            if i >= end:
                self.buf.append("%!(NOVERB)")
                break
            verb = fmt[i]
            i += 1
            if verb == "%":
                self.buf.append("%")
            elif not good_arg_num:
                self.buf.append(f"%!{verb}(BADINDEX)")
            elif arg_num >= len(args):
                self.buf.append(f"%!{verb}(MISSING)")
            else:
                if verb == "v":
                    self.sharp_v, self.sharp = self.sharp, False
                    self.plus_v, self.plus = self.plus, False
                self.print_arg(args[arg_num], verb)
                arg_num += 1
        if not reordered and arg_num < len(args):
            self.clear_flags()
            self.buf.append("%!(EXTRA ")
            for n, arg in enumerate(args[arg_num:]):
                if n:
                    self.buf.append(", ")
                if arg is None:
                    self.buf.append(NIL_ANGLE)
                else:
                    self.buf.append(type_name(arg) + "=")
                    self.print_arg(arg, "v")
            self.buf.append(")")


def _map_key_order(key: Any) -> tuple:
    # fmtsort: numbers by value, strings by bytes; mixed kinds are grouped by kind.
    if isinstance(key, str):
        return (1, key.encode())
    if isinstance(key, (int, float)):
        return (0, key)
    return (2, str(key))


def _parse_num(s: str, i: int, end: int) -> tuple[int | None, int]:
    start = i
    while i < end and "0" <= s[i] <= "9":
        i += 1
    if i == start:
        return None, i
    n = int(s[start:i])
    return (n if n <= 1_000_000 else None), i


def _arg_number(arg_num: int, fmt: str, i: int, num_args: int) -> tuple[int, int, bool, bool, bool]:
    """Go's argNumber: (arg_num, i, found, good, reordered) after an optional [n]."""
    if i >= len(fmt) or fmt[i] != "[":
        return arg_num, i, False, True, False
    close = fmt.find("]", i + 1)
    if close < 0:
        return arg_num, i + 1, False, False, True
    index, after = _parse_num(fmt, i + 1, close)
    if index is None or after != close:
        return arg_num, close + 1, False, False, True
    if 0 <= index - 1 < num_args:
        return index - 1, close + 1, True, True, True
    return arg_num, close + 1, True, False, True


def _int_from_arg(args: tuple, arg_num: int) -> tuple[int | None, int]:
    if arg_num >= len(args):
        return None, arg_num
    v = args[arg_num]
    if isinstance(v, bool) or not isinstance(v, int) or abs(v) > 1_000_000:
        return None, arg_num + 1
    return v, arg_num + 1
