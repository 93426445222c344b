#!/bin/sh
# Plays the browser for a login, with curl: $1 is the authorize URL the app printed. Signs in as
# $LOGIN_USER/$LOGIN_PASSWORD, allows Sync on the consent page, follows the server to the app's
# loopback callback and saves the app's answer page in $BROWSER_OUT. A copy of the e2e kit's
# script (tests/e2e/auth_cli.rs), for installer/windows/wine/test.sh: a Windows program under
# Wine cannot start a Linux script as its browser, so the test starts this with the URL.
set -eu
jar="$BROWSER_OUT.cookies"
base="${1%%/api/local-sync/*}"
# The value of the hidden field $1 in the page file $2, unescaped.
field() {
  sed -n "s/.*name=\"$1\" value=\"\([^\"]*\)\".*/\1/p" "$2" | head -n 1 |
    sed 's/&quot;/"/g; s/&#39;/'"'"'/g; s/&lt;/</g; s/&gt;/>/g; s/&amp;/\&/g'
}
curl -fsS -c "$jar" -b "$jar" -o "$BROWSER_OUT.login" "$1"
back=$(curl -sS -c "$jar" -b "$jar" -o /dev/null -w '%{redirect_url}' \
  --data-urlencode "username=$LOGIN_USER" --data-urlencode "password=$LOGIN_PASSWORD" \
  --data-urlencode "next=$(field next "$BROWSER_OUT.login")" \
  --data-urlencode "csrf=$(field csrf "$BROWSER_OUT.login")" "$base/login")
case "$back" in http*) ;; *) back="$base$back" ;; esac
curl -sS -c "$jar" -b "$jar" -o "$BROWSER_OUT.page" "$back"
if grep -q 'id="allow"' "$BROWSER_OUT.page"; then
  # The consent page: allow Sync.
  p="$BROWSER_OUT.page"
  answer=$(curl -sS -c "$jar" -b "$jar" -o /dev/null -w '%{redirect_url}' \
    --data-urlencode "redirect_uri=$(field redirect_uri "$p")" \
    --data-urlencode "state=$(field state "$p")" \
    --data-urlencode "code_challenge=$(field code_challenge "$p")" \
    --data-urlencode "code_challenge_method=$(field code_challenge_method "$p")" \
    --data-urlencode "csrf=$(field csrf "$p")" --data-urlencode "decision=allow" \
    "$base/api/local-sync/authorize")
else
  # Unpaid: the server shows its page with a link back to the app instead of redirecting.
  answer=$(sed -n 's/.*id="continue" href="\([^"]*\)".*/\1/p' "$BROWSER_OUT.page" | sed 's/&amp;/\&/g')
fi
curl -sS -o "$BROWSER_OUT.part" "$answer"
mv "$BROWSER_OUT.part" "$BROWSER_OUT"
