"""The SMTP grammar as regular-expression *sources*, each under the ABNF it implements.

RFC 5321 §4.1.2-4.1.3 (paths, mailboxes, domains, address literals, ESMTP parameters) and
§4.2 (reply lines), the RFC 6531 §3.3 UTF-8 extensions (SMTPUTF8), RFC 3461 §4 ``xtext`` and
the RFC 6533 §3 ``utf-8`` address forms. As in h11's ``_abnf.py``, bigger rules are built from
smaller ones by string concatenation, and each user compiles what it needs once, at import.

Conventions:

* Every source is a plain ``str`` that can be embedded in a bigger pattern: no anchors, and no
  capture groups (use ``(?:...)``), so callers add the named groups they want.
* Python matches ``str``: a "UTF-8 octet sequence" of the RFCs is one code point here.
* ABNF quoted strings are case-insensitive (RFC 5234 §2.3); so is ``HEXDIG``. Where that
  matters the source says so with ``(?i:...)`` or an explicit ``a-f``.

Deliberate departures, each noted again where it applies:

* ``UTF8-non-ascii`` leaves out the C1 controls U+0080-U+009F (RFC 5198 §2: "the control
  characters in the C1 range SHOULD NOT be used"; RFC 5321 §4.1.2 keeps controls out of
  mailboxes) and, as any Python ``str`` grammar must, the lone surrogates.
* Length limits (63-octet labels, RFC 5321 §4.5.3.1) and the value range of ``Snum`` are
  prose rules: the code checks them after the match, not the regex.
"""

from __future__ import annotations

__all__ = [
    "ALPHA",
    "DIGIT",
    "HEXDIG",
    "UTF8_NON_ASCII",
    "LET_DIG",
    "LDH_STR",
    "SUB_DOMAIN",
    "DOMAIN",
    "SUB_DOMAIN_UTF8",
    "DOMAIN_UTF8",
    "SNUM",
    "IPV4_ADDRESS_LITERAL",
    "IPV6_HEX",
    "IPV6_FULL",
    "IPV6_COMP",
    "IPV6V4_FULL",
    "IPV6V4_COMP",
    "IPV6_ADDR",
    "IPV6_ADDRESS_LITERAL",
    "STANDARDIZED_TAG",
    "DCONTENT",
    "GENERAL_ADDRESS_LITERAL",
    "ADDRESS_LITERAL",
    "ATEXT",
    "ATEXT_UTF8",
    "ATOM",
    "ATOM_UTF8",
    "DOT_STRING",
    "DOT_STRING_UTF8",
    "QTEXT_SMTP",
    "QTEXT_SMTP_UTF8",
    "QUOTED_PAIR_SMTP",
    "QCONTENT_SMTP",
    "QCONTENT_SMTP_UTF8",
    "QUOTED_STRING",
    "QUOTED_STRING_UTF8",
    "LOCAL_PART",
    "LOCAL_PART_UTF8",
    "MAILBOX",
    "MAILBOX_UTF8",
    "AT_DOMAIN",
    "A_D_L",
    "AT_DOMAIN_UTF8",
    "A_D_L_UTF8",
    "PATH",
    "PATH_UTF8",
    "REVERSE_PATH",
    "REVERSE_PATH_UTF8",
    "FORWARD_PATH",
    "FORWARD_PATH_UTF8",
    "POSTMASTER",
    "ESMTP_KEYWORD",
    "ESMTP_VALUE",
    "ESMTP_VALUE_UTF8",
    "ESMTP_PARAM",
    "ESMTP_PARAM_UTF8",
    "MAIL_PARAMETERS",
    "MAIL_PARAMETERS_UTF8",
    "STRING",
    "XCHAR",
    "HEXCHAR",
    "XTEXT",
    "QCHAR",
    "QUCHAR",
    "HEXPOINT",
    "EMBEDDED_UNICODE_CHAR",
    "UTF8_ADDR_XTEXT",
    "UTF8_ADDR_UNITEXT",
    "REPLY_CODE",
    "TEXTSTRING",
    "EHLO_KEYWORD",
    "EHLO_PARAM",
]

# ---------------------------------------------------------------------------------------------
# RFC 5234 Appendix B.1 core rules
# ---------------------------------------------------------------------------------------------

# ALPHA  = %x41-5A / %x61-7A   ; A-Z / a-z
ALPHA = r"[A-Za-z]"
# DIGIT  = %x30-39
DIGIT = r"[0-9]"
# HEXDIG = DIGIT / "A" / "B" / "C" / "D" / "E" / "F"   (case-insensitive, RFC 5234 §2.3)
HEXDIG = r"[0-9A-Fa-f]"

# RFC 6531 §3.3 (via RFC 3629 §4):
#   UTF8-non-ascii = UTF8-2 / UTF8-3 / UTF8-4
# One code point above U+007F. Departure: C1 controls (U+0080-U+009F, RFC 5198 §2) and lone
# surrogates (not characters) are left out. Written as the complement: the same set as
# [\u00a0-\ud7ff\ue000-\U0010ffff], but `re` compiles a class of huge ranges 16x slower, and the
# path grammars repeat it dozens of times (importing smtpcore took 140 ms in this module alone).
UTF8_NON_ASCII = r"[^\x00-\x9f\ud800-\udfff]"

# ---------------------------------------------------------------------------------------------
# Domains, RFC 5321 §4.1.2
# ---------------------------------------------------------------------------------------------

# Let-dig        = ALPHA / DIGIT
LET_DIG = r"[A-Za-z0-9]"
# Ldh-str        = *( ALPHA / DIGIT / "-" ) Let-dig
LDH_STR = r"[A-Za-z0-9-]*" + LET_DIG
# sub-domain     = Let-dig [Ldh-str]
SUB_DOMAIN = LET_DIG + r"(?:" + LDH_STR + r")?"
# Domain         = sub-domain *("." sub-domain)
DOMAIN = SUB_DOMAIN + r"(?:\." + SUB_DOMAIN + r")*"

# RFC 6531 §3.3:
#   sub-domain   =/  U-label
# A U-label (RFC 5890 §2.3.2.1) is checked for IDNA validity by the code (idna, UTS 46); the
# grammar only admits the shape: letters, digits, non-ASCII, inner hyphens.
_LET_DIG_UTF8 = r"(?:" + LET_DIG + r"|" + UTF8_NON_ASCII + r")"
_LDH_STR_UTF8 = r"(?:[A-Za-z0-9-]|" + UTF8_NON_ASCII + r")*" + _LET_DIG_UTF8
SUB_DOMAIN_UTF8 = _LET_DIG_UTF8 + r"(?:" + _LDH_STR_UTF8 + r")?"
DOMAIN_UTF8 = SUB_DOMAIN_UTF8 + r"(?:\." + SUB_DOMAIN_UTF8 + r")*"

# ---------------------------------------------------------------------------------------------
# Address literals, RFC 5321 §4.1.3
# ---------------------------------------------------------------------------------------------

# Snum           = 1*3DIGIT
#                ; representing a decimal integer value in the range 0 through 255
# (the range is prose: checked by the code)
SNUM = DIGIT + r"{1,3}"
# IPv4-address-literal  = Snum 3("."  Snum)
IPV4_ADDRESS_LITERAL = SNUM + r"(?:\." + SNUM + r"){3}"
# IPv6-hex       = 1*4HEXDIG
IPV6_HEX = HEXDIG + r"{1,4}"
# IPv6-full      = IPv6-hex 7(":" IPv6-hex)
IPV6_FULL = IPV6_HEX + r"(?::" + IPV6_HEX + r"){7}"
# IPv6-comp      = [IPv6-hex *5(":" IPv6-hex)] "::"
#                  [IPv6-hex *5(":" IPv6-hex)]
#                ; The "::" represents at least 2 16-bit groups of zeros.  No more than 6
#                ; groups in addition to the "::" may be present.
# (the "no more than 6 groups" is prose: checked by the code)
_IPV6_HEX_SEQ5 = IPV6_HEX + r"(?::" + IPV6_HEX + r"){0,5}"
IPV6_COMP = r"(?:" + _IPV6_HEX_SEQ5 + r")?::(?:" + _IPV6_HEX_SEQ5 + r")?"
# IPv6v4-full    = IPv6-hex 5(":" IPv6-hex) ":" IPv4-address-literal
IPV6V4_FULL = IPV6_HEX + r"(?::" + IPV6_HEX + r"){5}:" + IPV4_ADDRESS_LITERAL
# IPv6v4-comp    = [IPv6-hex *3(":" IPv6-hex)] "::"
#                  [IPv6-hex *3(":" IPv6-hex) ":"]
#                  IPv4-address-literal
#                ; No more than 4 groups in addition to the "::" and IPv4-address-literal
#                ; may be present.
_IPV6_HEX_SEQ3 = IPV6_HEX + r"(?::" + IPV6_HEX + r"){0,3}"
IPV6V4_COMP = r"(?:" + _IPV6_HEX_SEQ3 + r")?::(?:" + _IPV6_HEX_SEQ3 + r":)?" + IPV4_ADDRESS_LITERAL
# IPv6-addr      = IPv6-full / IPv6-comp / IPv6v4-full / IPv6v4-comp
IPV6_ADDR = r"(?:" + r"|".join([IPV6_FULL, IPV6_COMP, IPV6V4_FULL, IPV6V4_COMP]) + r")"
# IPv6-address-literal  = "IPv6:" IPv6-addr
# ("IPv6:" is an ABNF quoted string: case-insensitive)
IPV6_ADDRESS_LITERAL = r"(?i:IPv6:)" + IPV6_ADDR
# Standardized-tag  = Ldh-str
#                   ; Standardized-tag MUST be specified in a
#                   ; Standards-Track RFC and registered with IANA
STANDARDIZED_TAG = LDH_STR
# dcontent       = %d33-90 / ; Printable US-ASCII
#                  %d94-126 ; excl. "[", "\", "]"
DCONTENT = r"[!-Z^-~]"
# General-address-literal  = Standardized-tag ":" 1*dcontent
# Departure: the tag "IPv6" (any case) is taken by IPv6-address-literal, so it is refused here;
# otherwise "[IPv6:2001:db8::1%eth0]" would pass as a general literal.
GENERAL_ADDRESS_LITERAL = r"(?!(?i:IPv6):)" + STANDARDIZED_TAG + r":" + DCONTENT + r"+"
# address-literal  = "[" ( IPv4-address-literal /
#                  IPv6-address-literal /
#                  General-address-literal ) "]"
#                  ; See Section 4.1.3
ADDRESS_LITERAL = (
    r"\[(?:"
    + r"|".join([IPV4_ADDRESS_LITERAL, IPV6_ADDRESS_LITERAL, GENERAL_ADDRESS_LITERAL])
    + r")\]"
)

# ---------------------------------------------------------------------------------------------
# Local parts and mailboxes, RFC 5321 §4.1.2 (atext from RFC 5322 §3.2.3)
# ---------------------------------------------------------------------------------------------

# atext   =   ALPHA / DIGIT /    ; Printable US-ASCII
#             "!" / "#" /        ;  characters not including
#             "$" / "%" /        ;  specials.  Used for atoms.
#             "&" / "'" /
#             "*" / "+" /
#             "-" / "/" /
#             "=" / "?" /
#             "^" / "_" /
#             "`" / "{" /
#             "|" / "}" /
#             "~"
ATEXT = r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]"
# RFC 6531 §3.3:
#   atext   =/  UTF8-non-ascii
ATEXT_UTF8 = r"(?:" + ATEXT + r"|" + UTF8_NON_ASCII + r")"
# Atom           = 1*atext
ATOM = ATEXT + r"+"
ATOM_UTF8 = ATEXT_UTF8 + r"+"
# Dot-string     = Atom *("."  Atom)
DOT_STRING = ATOM + r"(?:\." + ATOM + r")*"
DOT_STRING_UTF8 = ATOM_UTF8 + r"(?:\." + ATOM_UTF8 + r")*"
# qtextSMTP      = %d32-33 / %d35-91 / %d93-126
#                ; i.e., within a quoted string, any
#                ; ASCII graphic or space is permitted
#                ; without blackslash-quoting except
#                ; double-quote and the backslash itself.
QTEXT_SMTP = r"[ !#-\[\]-~]"
# RFC 6531 §3.3:
#   qtextSMTP  =/ UTF8-non-ascii
QTEXT_SMTP_UTF8 = r"(?:" + QTEXT_SMTP + r"|" + UTF8_NON_ASCII + r")"
# quoted-pairSMTP  = %d92 %d32-126
#                  ; i.e., backslash followed by any ASCII
#                  ; graphic (including itself) or SPace
QUOTED_PAIR_SMTP = r"\\[ -~]"
# QcontentSMTP   = qtextSMTP / quoted-pairSMTP
QCONTENT_SMTP = r"(?:" + QTEXT_SMTP + r"|" + QUOTED_PAIR_SMTP + r")"
QCONTENT_SMTP_UTF8 = r"(?:" + QTEXT_SMTP_UTF8 + r"|" + QUOTED_PAIR_SMTP + r")"
# Quoted-string  = DQUOTE *QcontentSMTP DQUOTE
QUOTED_STRING = r'"' + QCONTENT_SMTP + r'*"'
QUOTED_STRING_UTF8 = r'"' + QCONTENT_SMTP_UTF8 + r'*"'
# Local-part     = Dot-string / Quoted-string
#                ; MAY be case-sensitive
LOCAL_PART = r"(?:" + DOT_STRING + r"|" + QUOTED_STRING + r")"
LOCAL_PART_UTF8 = r"(?:" + DOT_STRING_UTF8 + r"|" + QUOTED_STRING_UTF8 + r")"
# Mailbox        = Local-part "@" ( Domain / address-literal )
MAILBOX = LOCAL_PART + r"@(?:" + DOMAIN + r"|" + ADDRESS_LITERAL + r")"
# RFC 6531 §3.3: Mailbox with the UTF-8 Local-part and Domain above.
MAILBOX_UTF8 = LOCAL_PART_UTF8 + r"@(?:" + DOMAIN_UTF8 + r"|" + ADDRESS_LITERAL + r")"

# ---------------------------------------------------------------------------------------------
# Paths, RFC 5321 §4.1.2 (source routes: §4.1.1.3 and Appendix C)
# ---------------------------------------------------------------------------------------------

# At-domain      = "@" Domain
AT_DOMAIN = r"@" + DOMAIN
AT_DOMAIN_UTF8 = r"@" + DOMAIN_UTF8
# A-d-l          = At-domain *( "," At-domain )
#                ; Note that this form, the so-called "source
#                ; route", MUST BE accepted, SHOULD NOT be
#                ; generated, and SHOULD be ignored.
A_D_L = AT_DOMAIN + r"(?:," + AT_DOMAIN + r")*"
A_D_L_UTF8 = AT_DOMAIN_UTF8 + r"(?:," + AT_DOMAIN_UTF8 + r")*"
# Path           = "<" [ A-d-l ":" ] Mailbox ">"
PATH = r"<(?:" + A_D_L + r":)?" + MAILBOX + r">"
PATH_UTF8 = r"<(?:" + A_D_L_UTF8 + r":)?" + MAILBOX_UTF8 + r">"
# Reverse-path   = Path / "<>"
REVERSE_PATH = r"(?:" + PATH + r"|<>)"
REVERSE_PATH_UTF8 = r"(?:" + PATH_UTF8 + r"|<>)"
# Forward-path   = Path
FORWARD_PATH = PATH
FORWARD_PATH_UTF8 = PATH_UTF8
# RFC 5321 §4.1.1.3:
#   "RCPT TO:" ( "<Postmaster@" Domain ">" / "<Postmaster>" /
#               Forward-path ) [SP Rcpt-parameters] CRLF
# The bare "Postmaster" (case-insensitive as an ABNF quoted string; §4.5.1 says the
# postmaster local part is case-insensitive too).
POSTMASTER = r"(?i:Postmaster)"

# ---------------------------------------------------------------------------------------------
# Parameters, RFC 5321 §4.1.2; RFC 6531 §3.3; RFC 3461 §4
# ---------------------------------------------------------------------------------------------

# esmtp-keyword  = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
ESMTP_KEYWORD = r"[A-Za-z0-9][A-Za-z0-9-]*"
# esmtp-value    = 1*(%d33-60 / %d62-126)
#                ; any CHAR excluding "=", SP, and control
#                ; characters.  If this string is an email address,
#                ; i.e., a Mailbox, then the "xtext" syntax [32]
#                ; SHOULD be used.
ESMTP_VALUE = r"[!-<>-~]+"
# RFC 6531 §3.3:
#   esmtp-value  =/ UTF8-non-ascii
ESMTP_VALUE_UTF8 = r"(?:[!-<>-~]|" + UTF8_NON_ASCII + r")+"
# esmtp-param    = esmtp-keyword ["=" esmtp-value]
ESMTP_PARAM = ESMTP_KEYWORD + r"(?:=" + ESMTP_VALUE + r")?"
ESMTP_PARAM_UTF8 = ESMTP_KEYWORD + r"(?:=" + ESMTP_VALUE_UTF8 + r")?"
# Mail-parameters  = esmtp-param *(SP esmtp-param)
# Rcpt-parameters  = esmtp-param *(SP esmtp-param)
MAIL_PARAMETERS = ESMTP_PARAM + r"(?: " + ESMTP_PARAM + r")*"
MAIL_PARAMETERS_UTF8 = ESMTP_PARAM_UTF8 + r"(?: " + ESMTP_PARAM_UTF8 + r")*"
# String         = Atom / Quoted-string
STRING = r"(?:" + ATOM + r"|" + QUOTED_STRING + r")"

# RFC 3461 §4:
#   xtext = *( xchar / hexchar )
#   xchar = any ASCII CHAR between "!" (33) and "~" (126) inclusive,
#        except for "+" and "=".
#   ; "hexchar"s are intended to encode octets that cannot appear
#   ; as ASCII characters within an esmtp-value.
#   hexchar = ASCII "+" immediately followed by two upper case
#        hexadecimal digits
# ("upper case" is explicit prose here, so this HEXDIG is not case-insensitive)
XCHAR = r"[!-*,-<>-~]"
HEXCHAR = r"\+[0-9A-F]{2}"
XTEXT = r"(?:" + XCHAR + r"|" + HEXCHAR + r")*"

# RFC 6533 §3 (HEXPOINT as corrected by the RFC 6533 errata, which add "5C" and 80-FF):
#   QCHAR    = %x21-2a / %x2c-3c / %x3e-5b / %x5d-7e
#            ; ASCII printable characters except
#            ; CTLs, SP, '\', '+', '='.
#   QUCHAR   = QCHAR / UTF8-2 / UTF8-3 / UTF8-4
#   EmbeddedUnicodeChar = %x5C.78 "{" HEXPOINT "}"
#            ; starts with "\x"
#   HEXPOINT = ( ( "0"/"1" ) %x31-39 ) / "10" / "20" /
#              "2B" / "3D" / "7F" /         ; all xtext-specials
#              "5C" / (HEXDIG8 HEXDIG) /    ; 2-digit forms
#              ( NZHEXDIG 2(HEXDIG) ) /     ; 3-digit forms
#              ( NZDHEXDIG 3(HEXDIG) ) /    ; 4-digit forms excluding
#              ( "D" %x30-37 2(HEXDIG) ) /  ; ... surrogate
#              ( NZHEXDIG 4(HEXDIG) ) /     ; 5-digit forms
#              ( "10" 4*HEXDIG )            ; 6-digit forms
#   HEXDIG8  = %x38-39 / "A" / "B" / "C" / "D" / "E" / "F"
#   NZHEXDIG = %x31-39 / "A" / "B" / "C" / "D" / "E" / "F"
#   NZDHEXDIG = %x31-39 / "A" / "B" / "C" / "E" / "F"
# Departure: the 6-digit form takes exactly 4 more digits ("4*HEXDIG" would run past
# U+10FFFF). Hex letters are case-insensitive (RFC 5234 §2.3); "\x" is not (%x5C.78).
QCHAR = r"[!-*,-<>-\[\]-~]"
QUCHAR = r"(?:" + QCHAR + r"|" + UTF8_NON_ASCII + r")"
_HD = HEXDIG
_NZ = r"[1-9A-Fa-f]"
HEXPOINT = (
    r"(?:"
    + r"|".join(
        [
            r"[01][1-9]|10|20|2[Bb]|3[Dd]|7[Ff]|5[Cc]|[89A-Fa-f]" + _HD,
            _NZ + _HD + r"{2}",
            r"[1-9ABCEFabcef]" + _HD + r"{3}",
            r"[Dd][0-7]" + _HD + r"{2}",
            _NZ + _HD + r"{4}",
            r"10" + _HD + r"{4}",
        ]
    )
    + r")"
)
EMBEDDED_UNICODE_CHAR = r"\\x\{" + HEXPOINT + r"\}"
#   utf-8-addr-xtext    = 1*(QCHAR / EmbeddedUnicodeChar)
#   utf-8-addr-unitext  = 1*(QUCHAR / EmbeddedUnicodeChar)
UTF8_ADDR_XTEXT = r"(?:" + QCHAR + r"|" + EMBEDDED_UNICODE_CHAR + r")+"
UTF8_ADDR_UNITEXT = r"(?:" + QUCHAR + r"|" + EMBEDDED_UNICODE_CHAR + r")+"

# ---------------------------------------------------------------------------------------------
# Replies and EHLO, RFC 5321 §4.2 and §4.1.1.1
# ---------------------------------------------------------------------------------------------

# Reply-code     = %x32-35 %x30-35 %x30-39
REPLY_CODE = r"[2-5][0-5][0-9]"
# textstring     = 1*(%d09 / %d32-126) ; HT, SP, Printable US-ASCII
# (RFC 6531 §3.7.4 lets a reply carry UTF-8 once SMTPUTF8 is in use; the reply codec decides)
TEXTSTRING = r"[\t -~]+"
# ehlo-keyword   = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
#                ; additional syntax of ehlo-params depends on
#                ; ehlo-keyword
EHLO_KEYWORD = r"[A-Za-z0-9][A-Za-z0-9-]*"
# ehlo-param     = 1*(%d33-126)
#                ; any CHAR excluding <SP> and all
#                ; control characters (US-ASCII 0-31 and 127
#                ; inclusive)
EHLO_PARAM = r"[!-~]+"
