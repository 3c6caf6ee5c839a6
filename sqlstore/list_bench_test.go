package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"presence"
)

// BenchmarkListSessions100k: the operator's list on SQLite with 100,000
// sessions: the newest page, a page deep in, and a filtered page (the
// reason filter reads verdicts, so it is the slow one).
func BenchmarkListSessions100k(b *testing.B) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(b.TempDir(), "p.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const n = 100_000
	verdicts := []string{`{"decision":"realface","reasons":[]}`, `{"decision":"fake","reasons":[{"code":"replayed_frame","message":"x"}]}`}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		for i := range n {
			v := verdicts[i%50/49]
			dec := "realface"
			if i%50 == 49 {
				dec = "fake"
			}
			if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO sessions (id, mode, status, correlation_id, api_key_id, client_token_hash, created_at, expires_at, completed_at, decision, verdict)
				VALUES (?, 'passive', 'succeeded', ?, 'k', ?, ?, ?, ?, ?, ?)`),
				fmt.Sprintf("ses_%07d", i), fmt.Sprint("c-", i%1000), []byte(fmt.Sprint("t", i)), int64(i)*1000, int64(i)*1000+300000, int64(i)*1000+2000, dec, v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	deep := time.UnixMilli(int64(n/2) * 1000).UTC()
	for name, f := range map[string]presence.SessionFilter{
		"newest":        {Limit: 50},
		"deep-page":     {Limit: 50, AfterCreated: deep, AfterID: fmt.Sprintf("ses_%07d", n/2)},
		"status+key":    {Limit: 50, Status: presence.StatusSucceeded, APIKeyID: "k"},
		"reason":        {Limit: 50, Reason: presence.ReasonReplayedFrame},
		"correlationID": {Limit: 50, CorrelationID: "c-7"},
	} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if got, err := s.ListSessions(ctx, f); err != nil || len(got) == 0 {
					b.Fatal(len(got), err)
				}
			}
		})
	}
}
