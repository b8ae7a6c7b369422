/**
 * What the original ExoCom 0.12 (or an original relay: both are Express apps) answers with
 * status 500 when it threw: Express's default error page, with the stack and the absolute
 * paths of the machine it runs on. For tests of what a relay or a bus quotes from a peer:
 * one plain sentence, {@link ORIGINAL_ERROR_PAGE_SENTENCE}, never the page, stack or paths.
 */
export const ORIGINAL_ERROR_PAGE = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Error</title>
</head>
<body>
<pre>TypeError: Cannot read properties of undefined (reading &#39;map&#39;)<br> &nbsp; &nbsp;at ClientRegistry.subscribersTo (/home/u/exocom/dist/client-registry.js:47:15)<br> &nbsp; &nbsp;at ExoCom.send (/home/u/exocom/dist/exocom.js:80:31)</pre>
</body>
</html>
`

/** The one sentence of {@link ORIGINAL_ERROR_PAGE} that is worth quoting. */
export const ORIGINAL_ERROR_PAGE_SENTENCE =
  "TypeError: Cannot read properties of undefined (reading 'map')"
