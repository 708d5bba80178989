-- A new connection per request: every request says Connection: close, and wrk
-- reconnects after each response.
wrk.headers["Connection"] = "close"
