package presencetest

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver
)

// pgServer is a throw-away PostgreSQL cluster in a temp dir, started by
// the test binary itself: no pre-existing server is assumed.
type pgServer struct {
	dir, bin, port string
	asUser         string // run the server as this user (initdb refuses root)
}

var (
	pgOnce sync.Once
	pg     *pgServer
	pgErr  error
	pgDBs  atomic.Int64
)

// Postgres returns the URL of a new, empty database on the test binary's
// throw-away PostgreSQL server, starting the server on first use. The
// package's TestMain must call StopPostgres after its tests.
func Postgres(tb testing.TB) string {
	tb.Helper()
	pgOnce.Do(func() { pg, pgErr = startPostgres() })
	if pgErr != nil {
		tb.Fatalf("throw-away PostgreSQL: %v", pgErr)
	}
	name := fmt.Sprintf("test_%d_%d", os.Getpid(), pgDBs.Add(1))
	admin, err := sql.Open("pgx", pg.url("postgres"))
	if err != nil {
		tb.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		tb.Fatalf("create database: %v", err)
	}
	return pg.url(name)
}

// StopPostgres stops the server if this test binary started one.
func StopPostgres() {
	if pg != nil {
		pg.stop()
	}
}

func (s *pgServer) url(db string) string {
	return fmt.Sprintf("postgres://presence@127.0.0.1:%s/%s?sslmode=disable", s.port, db)
}

// postgresBin finds initdb and pg_ctl: on PATH, or in Debian's versioned
// folder (newest version first).
func postgresBin() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", fmt.Errorf("initdb not found: install PostgreSQL (Debian: apt-get install postgresql; `make test` does it)")
}

func versionOf(dir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return v
}

func startPostgres() (*pgServer, error) {
	bin, err := postgresBin()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "presence-pg-")
	if err != nil {
		return nil, err
	}
	s := &pgServer{dir: dir, bin: bin}
	if os.Geteuid() == 0 {
		// initdb refuses to run as root: hand the folder to the postgres
		// account Debian's package creates.
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root needs the postgres user: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, err
		}
		s.asUser = "postgres"
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s.port = port
	data := filepath.Join(dir, "data")
	if out, err := s.run("initdb", "-D", data, "-U", "presence", "-A", "trust", "-E", "UTF8", "--no-sync"); err != nil {
		return nil, fmt.Errorf("initdb: %v: %s", err, out)
	}
	// Durability off: a test database is thrown away.
	opts := fmt.Sprintf("-p %s -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200", port, dir)
	if out, err := s.run("pg_ctl", "-D", data, "-o", opts, "-l", filepath.Join(dir, "log"), "-w", "-t", "60", "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "log"))
		return nil, fmt.Errorf("pg_ctl start: %v: %s %s", err, out, log)
	}
	// Wait until it accepts connections on TCP.
	db, err := sql.Open("pgx", s.url("postgres"))
	if err != nil {
		s.stop()
		return nil, err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		if err = db.PingContext(ctx); err == nil {
			return s, nil
		}
		select {
		case <-ctx.Done():
			s.stop()
			return nil, fmt.Errorf("server did not accept connections: %w", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (s *pgServer) run(tool string, args ...string) (string, error) {
	path := filepath.Join(s.bin, tool)
	var cmd *exec.Cmd
	if s.asUser != "" {
		cmd = exec.Command("runuser", append([]string{"-u", s.asUser, "--", path}, args...)...)
	} else {
		cmd = exec.Command(path, args...)
	}
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func (s *pgServer) stop() {
	s.run("pg_ctl", "-D", filepath.Join(s.dir, "data"), "-m", "immediate", "-w", "stop")
	os.RemoveAll(s.dir)
}

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port), nil
}
