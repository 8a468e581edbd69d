// Package dialin maps a meeting's numeric dial-in code to the room the
// phone gateway knocks on, and limits code guessing.
//
// How a meeting gets a code: a member who holds the meeting link asks the
// gateway's directory to Assign a code to the link's room part (never the
// fragment secret, which Assign refuses to see). The directory draws a
// uniformly random code of CodeDigits digits and stores only
//
//	lookup = HMAC-SHA256(K, "conclave dial-in lookup v1" || code)
//	sealed = AES-256-GCM(key = HMAC-SHA256(K, "conclave dial-in seal v1" || code),
//	                     plaintext = server URL and room ID, aad = lookup)
//
// with its expiry, where K is the directory key (a 0600 file). The code
// itself is stored nowhere: someone who steals the directory file learns
// nothing without K, and with K must still try codes one by one.
//
// What the gateway learns from a correct code is the room ID, which lets it
// knock on the meeting's lobby exactly like a guest without the link
// secret: it never has the secret, so it cannot admit itself, and it learns
// nothing of the meeting's content until the members admit it (DESIGN.md
// P3, P4). A guessed code therefore buys an attacker a place in a lobby
// that the members see, not a way in.
//
// Guessing is limited (Limiter): wrong codes per caller and globally, with
// token buckets. With 10-digit codes, 1000 live meetings and the default
// global limit of 30 wrong codes a minute, one hit takes on average
// 10^10 / 1000 / 30 minutes, about 230 days.
//
// The package holds codes (caller secrets) and room IDs; it never logs
// either.
package dialin
