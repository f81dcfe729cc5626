package main

import (
	"context"
	"fmt"
	"log"
	"time"
)

// Run names, in the order they run within one repetition: the references are
// interleaved with the API runs they are compared with.
const (
	runSelectRef     = "pgbench -S"
	runHot           = "hot path"
	runPlain         = "plain handler + storage"
	runPage          = "page of 100"
	runByDoc         = "holderByDocument"
	runSingle        = "hot path, 1 client"
	runPlainSingle   = "plain handler + storage, 1 client"
	runOpen          = "hot path, open loop"
	runPlainOpen     = "plain handler + storage, open loop"
	runPlainOpenHalf = "plain handler + storage, open loop at half its own max"
	runWriteRef      = "pgbench -N"
	runCreate        = "createHolder"
	runPlainCreate   = "plain handler + storage, createHolder"
)

// The API runs in the order they run, after pgbench -S (readRuns) and after pgbench -N
// (writeRuns): the order of the per-run tables in the results.
var (
	readRuns  = []string{runHot, runPlain, runPage, runByDoc, runSingle, runPlainSingle, runOpen, runPlainOpen, runPlainOpenHalf}
	writeRuns = []string{runCreate, runPlainCreate}
)

// rep is one repetition of the whole sequence.
type rep struct {
	selectRef, writeRef pgbenchResult
	api                 map[string]runResult
}

type measurement struct {
	reps     []rep
	rssKB    int64
	profiles []profileRun // of the last repetition, with -profile
}

// measure runs cfg.reps repetitions of: pgbench -S, hot path, the plain reference
// (same keys), page, holderByDocument, hot path and plain reference with one client,
// hot path open loop at half this repetition's hot-path throughput, the plain reference's
// open loop at that rate and at half its own throughput, pgbench -N,
// createHolder and the plain reference's createHolder. With cfg.profile, the hot path,
// page and createHolder runs of the last repetition and their plain references are
// profiled (CPU, by the server under load).
func measure(ctx context.Context, cfg config, e *env) (*measurement, error) {
	data := e.data
	gqlURL := "http://" + e.server.addr + "/graphql"
	closed, err := newHTTPClient(gqlURL, cfg.clients, cfg.client)
	if err != nil {
		return nil, err
	}
	defer closed.close()
	openWorkers := openLoopWorkers(cfg.clients)
	open, err := newHTTPClient(gqlURL, openWorkers, cfg.client)
	if err != nil {
		return nil, err
	}
	defer open.close()
	plainClient, err := newHTTPClient("http://"+e.plain.addr+"/lookup", cfg.clients, cfg.client)
	if err != nil {
		return nil, err
	}
	defer plainClient.close()
	plainOpen, err := newHTTPClient("http://"+e.plain.addr+"/lookup", openWorkers, cfg.client)
	if err != nil {
		return nil, err
	}
	defer plainOpen.close()
	plainCreateClient, err := newHTTPClient("http://"+e.plain.addr+"/holders", cfg.clients, cfg.client)
	if err != nil {
		return nil, err
	}
	defer plainCreateClient.close()

	hot, plain, page, byDoc := hotPathWorkload(data), plainWorkload(data), pageWorkload(data), byDocumentWorkload(data)
	create, plainCreate := createWorkload(data), plainCreateWorkload(data)
	m := &measurement{}
	for i := range cfg.reps {
		log.Printf("repetition %d/%d (%v per run, %d clients)", i+1, cfg.reps, cfg.duration, cfg.clients)
		r := rep{api: map[string]runResult{}}
		seed := func(k int) uint64 { return cfg.seed*1_000_003 + uint64(i)*100 + uint64(k) }
		last := i == cfg.reps-1

		ref, err := e.runPgbench(ctx, "-S", cfg.clients, cfg.duration)
		if err != nil {
			return nil, err
		}
		r.selectRef = ref
		log.Printf("  %-22s %9.0f tps  avg %v  (failed %d)%s", runSelectRef, ref.tps, ref.latencyAvg.Round(time.Microsecond), ref.failed, ref.cpu.brief())

		// The plain reference runs right after the hot path, with the hot path's seed:
		// the same keys in the same order.
		for _, x := range []struct {
			name    string
			w       workload
			c       *httpClient
			clients int
			seed    int
			srv     *server // the server answering
			profile bool    // profiled in the last repetition
		}{
			{runHot, hot, closed, cfg.clients, 0, e.server, true},
			{runPlain, plain, plainClient, cfg.clients, 0, e.plain, true},
			{runPage, page, closed, cfg.clients, 1, e.server, true},
			{runByDoc, byDoc, closed, cfg.clients, 2, e.server, false},
			{runSingle, hot, closed, 1, 3, e.server, false},
			{runPlainSingle, plain, plainClient, 1, 3, e.plain, false},
		} {
			prof := cfg.profile && last && x.profile
			res, err := apiRun(ctx, e, x.c, x.w, x.clients, cfg, seed(x.seed), x.srv, prof)
			if err != nil {
				return nil, err
			}
			logRun(x.name, res)
			if prof {
				m.profiles = append(m.profiles, saveProfile(cfg.profileDir, cfg.profileSuffix, x.name, x.srv, res))
				res.profile = nil
			}
			r.api[x.name] = res
		}

		// The open loop at half the hot path's rate, then the plain reference at the same
		// rate and keys: what latency tail the machine itself gives one lookup at that load.
		// Then the plain reference at half its own maximum, the target's definition applied
		// to it: whether the machine allows the target to a server as light as it.
		rate, plainRate := r.api[runHot].throughput()/2, r.api[runPlain].throughput()/2
		for _, x := range []struct {
			name string
			c    *httpClient
			w    workload
			srv  *server
			rate float64
		}{{runOpen, open, hot, e.server, rate}, {runPlainOpen, plainOpen, plain, e.plain, rate}, {runPlainOpenHalf, plainOpen, plain, e.plain, plainRate}} {
			if x.rate <= 0 { // its closed loop answered nothing
				continue
			}
			s0, err := e.statements(ctx)
			if err != nil {
				return nil, err
			}
			w := e.startCPU(x.srv)
			res, err := openLoop(ctx, x.c, x.w, x.rate, cfg.duration, openWorkers, seed(10))
			res.cpu = w.stop()
			res.cpu.units = res.requests
			if err != nil {
				return nil, err
			}
			s1, err := e.statements(ctx)
			if err != nil {
				return nil, err
			}
			res.stmts = s1 - s0
			r.api[x.name] = res
			logRun(fmt.Sprintf("%s @%.0f/s", x.name, x.rate), res)
		}

		wref, err := e.runPgbench(ctx, "-N", cfg.clients, cfg.duration)
		if err != nil {
			return nil, err
		}
		r.writeRef = wref
		log.Printf("  %-22s %9.0f tps  avg %v  (failed %d)%s", runWriteRef, wref.tps, wref.latencyAvg.Round(time.Microsecond), wref.failed, wref.cpu.brief())

		// createHolder, then the same holders' inputs through the plain reference.
		for _, x := range []struct {
			name string
			w    workload
			c    *httpClient
			srv  *server
		}{{runCreate, create, closed, e.server}, {runPlainCreate, plainCreate, plainCreateClient, e.plain}} {
			prof := cfg.profile && last
			res, err := apiRun(ctx, e, x.c, x.w, cfg.clients, cfg, seed(20), x.srv, prof)
			if err != nil {
				return nil, err
			}
			if prof {
				m.profiles = append(m.profiles, saveProfile(cfg.profileDir, cfg.profileSuffix, x.name, x.srv, res))
				res.profile = nil
			}
			r.api[x.name] = res
			logRun(x.name, res)
		}
		m.reps = append(m.reps, r)
	}
	return m, nil
}

// apiRun warms up (unmeasured), then runs the closed loop, counting the database's
// statements over exactly the measured requests and accounting the CPU of srv (the
// server answering), PostgreSQL, the harness and the machine over the measured loop.
// With prof, it takes srv's CPU profile during the measured run (see startProfile).
func apiRun(ctx context.Context, e *env, c *httpClient, w workload, clients int, cfg config, seed uint64, srv *server, prof bool) (runResult, error) {
	if cfg.warmup > 0 {
		wu := closedLoop(ctx, c, w, clients, cfg.warmup, seed^0xffff)
		if err := ctx.Err(); err != nil {
			return runResult{}, err
		}
		if wu.requests > 0 && wu.failures == wu.requests {
			return runResult{}, fmt.Errorf("%s: every warm-up request failed, e.g. %s", w.name, wu.firstErr)
		}
	}
	s0, err := e.statements(ctx)
	if err != nil {
		return runResult{}, err
	}
	cpu := e.startCPU(srv)
	var pending *pendingProfile
	if prof {
		pending = startProfile(ctx, srv.debugAddr, cfg.duration)
	}
	res := closedLoop(ctx, c, w, clients, cfg.duration, seed)
	res.cpu = cpu.stop()
	res.cpu.units = res.requests
	if pending != nil {
		res.profile, res.profileErr = pending.wait()
	}
	if err := ctx.Err(); err != nil {
		return runResult{}, err
	}
	s1, err := e.statements(ctx)
	if err != nil {
		return runResult{}, err
	}
	res.stmts = s1 - s0
	return res, nil
}

// openLoopWorkers is the size of the open loop's pool of workers.
func openLoopWorkers(clients int) int { return max(64, 8*clients) }

func logRun(name string, r runResult) {
	msg := fmt.Sprintf("  %-22s %9.0f req/s  p50 %v  p99 %v  %.2f SQL/req", name, r.throughput(),
		r.percentile(0.50).Round(time.Microsecond), r.percentile(0.99).Round(time.Microsecond), r.stmtsPerRequest())
	msg += r.cpu.brief()
	if r.failures > 0 {
		msg += fmt.Sprintf("  FAILURES %d/%d, first: %s", r.failures, r.requests, r.firstErr)
	}
	log.Print(msg)
}
