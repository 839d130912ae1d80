// Command go-opa is the peer a Go team would build in place of regate's allow path: a net/http
// reverse proxy (httputil.ReverseProxy) that verifies the caller's ES256 JWT with
// github.com/lestrrat-go/jwx/v3 against the bench's JWKS file, issuer and audience, builds the
// same policy input regate builds (src/proxy/input.ts), evaluates the same rego/ in process with
// OPA's Go SDK (github.com/open-policy-agent/opa/v1/rego, prepared once with PrepareForEval),
// refuses with 403 on deny or hold, and forwards the rest to the upstream.
//
// What it does not do, on purpose (the bench table says so): no masking, no audit log, no holds
// or approvals (approval is null and grants empty in every input), no metrics, no request log.
// Verified tokens are cached by their SHA-256 until they expire, as regate does, so both pay a
// hash per request rather than a signature check (-token-cache=false turns that off).
//
// It prints "listening PORT" once it serves (the bench harness waits for that line). Two bench
// endpoints answer on the same listener, before any routing: GET /__peer/eval-stats (policy
// evaluations since the last call: count, p50 and p99 in microseconds; resets) and
// GET /__peer/eval-loop?n=N (evaluates the last input it built N times back to back and answers
// the p50/p99 of those, plus the input itself, so the bench can time regate's Wasm on the very same input).
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
)

// route maps a path prefix to a route name, as regate's routes[] do.
type route struct{ name, prefix string }

type identity struct {
	Sub    string         `json:"sub"`
	Iss    string         `json:"iss"`
	Groups []string       `json:"groups"`
	Claims map[string]any `json:"claims"`
}

type cached struct {
	id  *identity
	exp time.Time
}

type peer struct {
	keys      jwk.Set
	issuer    string
	audience  string
	tokenLRU  bool
	tokens    sync.Map // sha256(token) -> cached
	query     rego.PreparedEvalQuery
	routes    []route
	proxy     *httputil.ReverseProxy
	maxBody   int64
	usage     *usageCounter
	stats     evalStats
	lastInput sync.Map // "input" -> map[string]any
}

// Headers the policy never sees (regate's policyHeaders: the client's secrets).
var secret = map[string]bool{"authorization": true, "cookie": true, "proxy-authorization": true, "x-api-key": true}

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	upstream := flag.String("upstream", "", "upstream base URL")
	regoDir := flag.String("rego", "", "policy folder: *.rego (not *_test.rego) and data.json at its root")
	jwksFile := flag.String("jwks", "", "JWKS file with the issuer's public keys")
	issuer := flag.String("issuer", "", "required token issuer")
	audience := flag.String("audience", "", "required token audience")
	routes := flag.String("routes", "fraud-model=/v1/score,transactions=/v1/transactions,chat=/v1/chat", "name=prefix,... (first match wins)")
	tokenCache := flag.Bool("token-cache", true, "cache verified tokens by SHA-256 until they expire")
	credential := flag.String("credential", "", "header=value the proxy adds towards the upstream (regate's upstream credential)")
	flag.Parse()
	if *upstream == "" || *regoDir == "" || *jwksFile == "" || *issuer == "" || *audience == "" {
		log.Fatal("go-opa: -upstream, -rego, -jwks, -issuer and -audience are required")
	}

	keys, err := jwk.ReadFile(*jwksFile)
	if err != nil {
		log.Fatalf("go-opa: reading %s: %v", *jwksFile, err)
	}
	query, err := prepare(*regoDir)
	if err != nil {
		log.Fatalf("go-opa: preparing the policy in %s: %v", *regoDir, err)
	}
	up, err := url.Parse(*upstream)
	if err != nil {
		log.Fatalf("go-opa: -upstream: %v", err)
	}
	p := &peer{keys: keys, issuer: *issuer, audience: *audience, tokenLRU: *tokenCache, query: query, maxBody: 1 << 20, usage: newUsageCounter()}
	for _, r := range strings.Split(*routes, ",") {
		name, prefix, ok := strings.Cut(r, "=")
		if !ok {
			log.Fatalf("go-opa: -routes entry %q is not name=prefix", r)
		}
		p.routes = append(p.routes, route{name, prefix})
	}
	credName, credValue, _ := strings.Cut(*credential, "=")
	p.proxy = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(up)
			pr.SetXForwarded()
			pr.Out.Header.Del("Authorization")
			pr.Out.Header.Del("Cookie")
			if credName != "" {
				pr.Out.Header.Set(credName, credValue)
			}
		},
		// Go's default keeps 2 idle connections per host, which no team serving load keeps.
		Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 128, IdleConnTimeout: 90 * time.Second, ForceAttemptHTTP2: false},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			writeError(w, http.StatusBadGateway, "upstream_unavailable", err.Error())
		},
	}

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("listening %d\n", ln.Addr().(*net.TCPAddr).Port)
	srv := &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 60 * time.Second}
	log.Fatal(srv.Serve(ln))
}

// prepare compiles the policy once: every .rego under dir except tests, and dir/data.json as data.
func prepare(dir string) (rego.PreparedEvalQuery, error) {
	opts := []func(*rego.Rego){rego.Query("data.regate.decision")}
	files, err := filepath.Glob(filepath.Join(dir, "*.rego"))
	if err != nil {
		return rego.PreparedEvalQuery{}, err
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.rego") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			return rego.PreparedEvalQuery{}, err
		}
		opts = append(opts, rego.Module(f, string(src)))
	}
	raw, err := os.ReadFile(filepath.Join(dir, "data.json"))
	if err != nil {
		return rego.PreparedEvalQuery{}, err
	}
	var data map[string]any
	if err := json.Unmarshal(raw, &data); err != nil {
		return rego.PreparedEvalQuery{}, fmt.Errorf("data.json: %w", err)
	}
	opts = append(opts, rego.Store(inmem.NewFromObject(data)))
	return rego.New(opts...).PrepareForEval(context.Background())
}

func (p *peer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/__peer/") {
		p.bench(w, r)
		return
	}
	var rt *route
	for i := range p.routes {
		if strings.HasPrefix(r.URL.Path, p.routes[i].prefix) {
			rt = &p.routes[i]
			break
		}
	}
	if rt == nil {
		writeError(w, http.StatusNotFound, "no_route", "no route for "+r.URL.Path)
		return
	}
	id, err := p.authenticate(r)
	if err != nil {
		writeError(w, http.StatusUnauthorized, "unauthenticated", err.Error())
		return
	}

	// The body is read whole (up to 1 MiB) so the policy sees it parsed, then sent on as read.
	var body any
	var raw []byte
	if r.Body != nil && r.Body != http.NoBody {
		raw, err = io.ReadAll(io.LimitReader(r.Body, p.maxBody+1))
		if err != nil {
			writeError(w, http.StatusBadRequest, "bad_request", "reading the body: "+err.Error())
			return
		}
		if int64(len(raw)) > p.maxBody {
			writeError(w, http.StatusRequestEntityTooLarge, "body_too_large", "the body is over 1 MiB")
			return
		}
		if len(raw) > 0 && strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			if json.Unmarshal(raw, &body) != nil {
				writeError(w, http.StatusBadRequest, "invalid_json", "the body is not valid JSON")
				return
			}
		}
		r.Body = io.NopCloser(bytes.NewReader(raw))
		r.ContentLength = int64(len(raw))
	}

	input := map[string]any{
		"identity": map[string]any{"sub": id.Sub, "iss": id.Iss, "groups": id.Groups, "claims": id.Claims},
		"request": map[string]any{
			"method": r.Method, "path": r.URL.Path, "query": queryLists(r.URL.RawQuery),
			"headers": policyHeaders(r), "body": body, "body_bytes": len(raw),
		},
		"route":    map[string]any{"name": rt.name},
		"usage":    map[string]any{"requests_last_minute": p.usage.hit(id.Iss + "\x00" + id.Sub)},
		"approval": nil,
		"grants":   []any{},
		"time":     map[string]any{"now_ns": time.Now().UnixNano()},
	}
	p.lastInput.Store("input", input)
	allow, reason, err := p.decide(r.Context(), input)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "policy_error", err.Error())
		return
	}
	if !allow {
		writeError(w, http.StatusForbidden, "forbidden", reason)
		return
	}
	p.proxy.ServeHTTP(w, r)
}

// decide evaluates the prepared query; anything but an explicit allow without a hold refuses.
func (p *peer) decide(ctx context.Context, input map[string]any) (bool, string, error) {
	t0 := time.Now()
	rs, err := p.query.Eval(ctx, rego.EvalInput(input))
	p.stats.add(time.Since(t0))
	if err != nil {
		return false, "", err
	}
	if len(rs) != 1 || len(rs[0].Expressions) != 1 {
		return false, "", fmt.Errorf("data.regate.decision is undefined for this input")
	}
	d, ok := rs[0].Expressions[0].Value.(map[string]any)
	if !ok {
		return false, "", fmt.Errorf("data.regate.decision is not an object")
	}
	reason, _ := d["reason"].(string)
	return d["allow"] == true && d["hold"] == nil, reason, nil
}

func (p *peer) authenticate(r *http.Request) (*identity, error) {
	auth := r.Header.Values("Authorization")
	if len(auth) != 1 || !strings.HasPrefix(auth[0], "Bearer ") {
		return nil, fmt.Errorf("one Authorization: Bearer header is required")
	}
	token := auth[0][len("Bearer "):]
	var key [32]byte
	if p.tokenLRU {
		key = sha256.Sum256([]byte(token))
		if c, ok := p.tokens.Load(key); ok {
			if time.Now().Before(c.(cached).exp) {
				return c.(cached).id, nil
			}
			p.tokens.Delete(key)
		}
	}
	tok, err := jwt.ParseString(token, jwt.WithKeySet(p.keys), jwt.WithIssuer(p.issuer), jwt.WithAudience(p.audience), jwt.WithAcceptableSkew(30*time.Second))
	if err != nil {
		return nil, err
	}
	sub, _ := tok.Subject()
	exp, hasExp := tok.Expiration()
	if sub == "" || !hasExp {
		return nil, fmt.Errorf("the token needs sub and exp")
	}
	// The policy's claims are the verified payload as sent (regate passes jose's payload).
	parts := strings.Split(token, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, err
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		return nil, err
	}
	id := &identity{Sub: sub, Iss: p.issuer, Groups: groupsOf(claims["groups"]), Claims: claims}
	if p.tokenLRU {
		p.tokens.Store(key, cached{id, exp})
	}
	return id, nil
}

func groupsOf(v any) []string {
	switch g := v.(type) {
	case string:
		return []string{g}
	case []any:
		out := make([]string, 0, len(g))
		for _, s := range g {
			if str, ok := s.(string); ok {
				out = append(out, str)
			}
		}
		return out
	}
	return []string{}
}

// queryLists: query values as lists of strings (regate's queryLists).
func queryLists(raw string) map[string]any {
	out := map[string]any{}
	if raw == "" {
		return out
	}
	q, _ := url.ParseQuery(raw)
	for k, vs := range q {
		l := make([]any, len(vs))
		for i, v := range vs {
			l[i] = v
		}
		out[k] = l
	}
	return out
}

// policyHeaders: lower-cased names, one string each (joined with ", "), without the client's secrets.
func policyHeaders(r *http.Request) map[string]any {
	out := make(map[string]any, len(r.Header)+1)
	for name, vs := range r.Header {
		n := strings.ToLower(name)
		if secret[n] {
			continue
		}
		out[n] = strings.Join(vs, ", ")
	}
	// node:http keeps Host among the headers; Go moves it to r.Host.
	out["host"] = r.Host
	return out
}

func writeError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	b, _ := json.Marshal(map[string]string{"error": code, "message": message})
	w.Write(b)
}

// usageCounter: requests per identity in the last minute, in one-second buckets (regate's UsageCounter).
type usageCounter struct {
	mu sync.Mutex
	by map[string]*[60]struct {
		sec   int64
		count int
	}
}

func newUsageCounter() *usageCounter {
	return &usageCounter{by: map[string]*[60]struct {
		sec   int64
		count int
	}{}}
}

func (u *usageCounter) hit(key string) int {
	now := time.Now().Unix()
	u.mu.Lock()
	defer u.mu.Unlock()
	b := u.by[key]
	if b == nil {
		b = new([60]struct {
			sec   int64
			count int
		})
		u.by[key] = b
	}
	slot := &b[now%60]
	if slot.sec != now {
		slot.sec, slot.count = now, 0
	}
	slot.count++
	total := 0
	for i := range b {
		if now-b[i].sec < 60 {
			total += b[i].count
		}
	}
	return total
}

// evalStats keeps every evaluation's duration since the last read (the bench reads after each run).
type evalStats struct {
	mu      sync.Mutex
	samples []time.Duration
}

func (s *evalStats) add(d time.Duration) {
	s.mu.Lock()
	if len(s.samples) < 4_000_000 {
		s.samples = append(s.samples, d)
	}
	s.mu.Unlock()
}

func (s *evalStats) take() []time.Duration {
	s.mu.Lock()
	out := s.samples
	s.samples = nil
	s.mu.Unlock()
	return out
}

func summary(ds []time.Duration) map[string]any {
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	pct := func(p float64) float64 {
		if len(ds) == 0 {
			return 0
		}
		i := int(float64(len(ds))*p/100+0.999999) - 1
		if i < 0 {
			i = 0
		}
		if i >= len(ds) {
			i = len(ds) - 1
		}
		return float64(ds[i].Nanoseconds()) / 1000
	}
	return map[string]any{"evals": len(ds), "p50_us": pct(50), "p99_us": pct(99)}
}

func (p *peer) bench(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	switch r.URL.Path {
	case "/__peer/eval-stats":
		json.NewEncoder(w).Encode(summary(p.stats.take()))
	case "/__peer/eval-loop":
		v, ok := p.lastInput.Load("input")
		if !ok {
			writeError(w, http.StatusConflict, "no_input", "no request has been decided yet")
			return
		}
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		if n <= 0 {
			n = 10_000
		}
		input := v.(map[string]any)
		ds := make([]time.Duration, 0, n)
		for i := 0; i < n; i++ {
			t0 := time.Now()
			if _, _, err := p.decide(r.Context(), input); err != nil {
				writeError(w, http.StatusInternalServerError, "policy_error", err.Error())
				return
			}
			ds = append(ds, time.Since(t0))
		}
		p.stats.take() // the loop's own evaluations are not load figures
		out := summary(ds)
		out["input"] = input
		json.NewEncoder(w).Encode(out)
	default:
		writeError(w, http.StatusNotFound, "no_route", "unknown bench endpoint")
	}
}
