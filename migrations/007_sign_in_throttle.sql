-- Sign-in throttling by account and client address together, with a cap per address. It replaces
-- login_throttle, whose lock per account (five failures from anywhere) let anyone lock any account
-- out, its only admin included.
DROP TABLE login_throttle;

-- Sign-in attempts at one account from one address since the last success there. Past a few, each
-- attempt waits for a delay that doubles; other addresses are not affected. An attempt is counted
-- when it starts (so parallel guesses cannot slip past the count) and the row goes on success.
CREATE TABLE sign_in_attempts (
    email        text NOT NULL,        -- normalised as typed: unknown accounts count like real ones
    address      text NOT NULL,        -- the client's IP address; IPv6 by /64
    attempts     integer NOT NULL,
    last_attempt timestamptz NOT NULL,
    not_before   timestamptz,          -- no attempt from this address at this account before then
    PRIMARY KEY (email, address)
);
CREATE INDEX sign_in_attempts_last_attempt ON sign_in_attempts (last_attempt);

-- Failed sign-ins from one address, at any account, in a window that starts with the first: over
-- the cap, the address waits for the window to end.
CREATE TABLE sign_in_address_failures (
    address      text PRIMARY KEY,
    failures     integer NOT NULL,
    window_start timestamptz NOT NULL
);

---- create above / drop below ----

DROP TABLE sign_in_address_failures;
DROP TABLE sign_in_attempts;
CREATE TABLE login_throttle (
    key          text PRIMARY KEY,
    failures     integer NOT NULL,
    window_start timestamptz NOT NULL,
    locked_until timestamptz
);
