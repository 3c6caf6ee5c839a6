package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"presence/session"
)

// preAuthMessageBytes bounds what a peer may send before its hello was
// accepted: a hello is a few hundred bytes, and unauthenticated peers must
// not make the server buffer megabytes each.
const preAuthMessageBytes = 16 << 10

var _ session.AuthenticatedConn = wsConn{}

// wsConn adapts a WebSocket to the session service's StreamConn.
type wsConn struct {
	c *websocket.Conn
	// max is the message limit once the peer is authenticated.
	max int64
}

// Authenticated lifts the pre-authentication message limit.
func (w wsConn) Authenticated() { w.c.SetReadLimit(w.max) }

func (w wsConn) Read(ctx context.Context) (bool, []byte, error) {
	typ, data, err := w.c.Read(ctx)
	return typ == websocket.MessageBinary, data, err
}

func (w wsConn) WriteJSON(ctx context.Context, v any) error { return wsjson.Write(ctx, w.c, v) }

// stream upgrades to a WebSocket and runs the session over it. The client
// token comes in the first message, not the URL, so it never reaches
// access logs; there are no cookies, so any origin may connect (the token
// is the credential).
func (s *Server) stream(w http.ResponseWriter, r *http.Request) {
	// The server's read/write deadlines are for plain requests; a stream
	// lasts as long as its challenge.
	rc := http.NewResponseController(w)
	rc.SetReadDeadline(time.Time{})
	rc.SetWriteDeadline(time.Time{})
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return // Accept has answered the failed handshake
	}
	c.SetReadLimit(min(preAuthMessageBytes, s.cfg.MaxBodyBytes))
	s.streams.Add(1)
	defer s.streams.Done()
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	stop := context.AfterFunc(s.streamsCtx, cancel)
	defer stop()
	if err := s.cfg.Sessions.Stream(ctx, r.PathValue("id"), wsConn{c: c, max: s.cfg.MaxBodyBytes}); err != nil {
		c.Close(websocket.StatusPolicyViolation, "session ended")
		return
	}
	c.Close(websocket.StatusNormalClosure, "done")
}

// CloseStreams ends every open stream (each is stored as failed with
// connection_lost) and waits for them, at most until ctx ends. Call it
// after http.Server.Shutdown, which does not track upgraded connections.
func (s *Server) CloseStreams(ctx context.Context) {
	s.stopStreams()
	done := make(chan struct{})
	go func() { s.streams.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
}
