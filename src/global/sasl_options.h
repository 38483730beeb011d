/*
 * sasl_options - what the SMTP server (smtpd_sasl.c) and the SMTP client
 * (agents/smtp/smtp_sasl.c) share of Cyrus SASL: Postfix's security option
 * words and the call-back cast.  Header constants only: nothing here
 * calls the library, so sluice_global does not link it.
 */
#ifndef SLUICE_SASL_OPTIONS_H
#define SLUICE_SASL_OPTIONS_H

/*
 * sasl_security_flags - the SASL_SEC_* bits of a list of Postfix's
 * smtp(d)_sasl_*security_options words (noanonymous, noplaintext,
 * noactive, nodictionary, forward_secrecy, mutual_auth; separated by
 * commas or white space; case does not matter).  Returns the bits, or -1
 * with *bad_r the first unknown word (static, valid until the next call).
 */
int sasl_security_flags(const char *list, const char **bad_r);

/* SASL_OPTIONS_WORDS - the words sasl_security_flags() knows, for messages. */
#define SASL_OPTIONS_WORDS \
	"noanonymous, noplaintext, noactive, nodictionary, forward_secrecy or mutual_auth"

/* SASL_PROC - a call-back as the library's generic type (sasl_callback_t
 * .proc); the real type depends on the id.  GCC lets void (*)(void)
 * stand for any function pointer. */
#define SASL_PROC(f)	((int (*)(void))(void (*)(void))(f))

#endif
