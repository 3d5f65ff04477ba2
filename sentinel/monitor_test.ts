/**
 * The monitor as a state machine: a fake clock, seeded randomness and fake links. A master stops
 * answering; the sentinel sees it down, a peer agrees, the sentinel wins the election, promotes
 * the best replica with Redis's MULTI/SLAVEOF/CONFIG REWRITE/CLIENT KILL/EXEC sequence,
 * reconfigures the other replica, and switches the master.
 */
import { deepStrictEqual, equal, ok } from "node:assert/strict";
import { FakeClock } from "../shared/clock.ts";
import type { RespValue } from "../shared/resp/mod.ts";
import { RespError } from "../shared/resp/mod.ts";
import { defaultConfig, type MasterConfig, newMasterConfig } from "./config.ts";
import { type Effects, Monitor } from "./monitor.ts";
import type { Instance } from "./state.ts";
import { seededRandom } from "../tests/helpers/random.ts";

interface Sent {
  to: string;
  argv: string[];
}

class FakeWorld implements Effects {
  sent: Sent[] = [];
  events: string[] = [];
  saves = 0;
  /** How each instance answers, by "host:port". Null: no answer at all (a dead node). */
  answer = new Map<string, ((argv: string[]) => RespValue) | null>();

  command(ri: Instance, argv: string[]): Promise<RespValue> {
    const key = `${ri.host}:${ri.port}`;
    this.sent.push({ to: key, argv });
    const fn = this.answer.get(key);
    if (fn === null) return new Promise(() => {});
    if (!fn) return Promise.reject(new RespError("ERR no such node"));
    return Promise.resolve(fn(argv));
  }
  event(_level: string, type: string, message: string): void {
    this.events.push(`${type} ${message}`);
  }
  save(): boolean {
    this.saves++;
    return true;
  }
  dropLinks(): void {}
}

function info(fields: Record<string, string | number>): string {
  return "# Replication\r\n" +
    Object.entries(fields).map(([k, v]) => `${k}:${v}`).join("\r\n") + "\r\n";
}

Deno.test("monitor: SDOWN, ODOWN with a peer, election, promotion, reconfiguration, switch", async () => {
  const clock = new FakeClock(1_000_000);
  const cfg = defaultConfig();
  cfg.myid = "a".repeat(40);
  const mc = newMasterConfig("mymaster", "10.0.0.1", 6379, 2);
  mc.downAfterMs = 1000;
  mc.failoverTimeoutMs = 10_000;
  cfg.masters.set("mymaster", mc);
  const w = new FakeWorld();
  const mon = new Monitor(cfg, clock, seededRandom(7), w);
  const m = mon.masters.get("mymaster")!;

  // The master lists two replicas; r2 has the larger offset and wins the selection.
  let masterAlive = true;
  w.answer.set("10.0.0.1:6379", (argv) => {
    if (argv[0] === "INFO") {
      return info({
        run_id: "m".repeat(40),
        role: "master",
        slave0: "ip=10.0.0.2,port=6379,state=online,offset=100,lag=0",
        slave1: "ip=10.0.0.3,port=6379,state=online,offset=100,lag=0",
      });
    }
    return argv[0] === "PING" ? "PONG" : 1;
  });
  const replicaState = new Map([["10.0.0.2:6379", {
    offset: 90,
    master: "10.0.0.1",
    role: "slave",
  }], [
    "10.0.0.3:6379",
    { offset: 100, master: "10.0.0.1", role: "slave" },
  ]]);
  for (const key of replicaState.keys()) {
    w.answer.set(key, (argv) => {
      const st = replicaState.get(key)!;
      if (argv[0] === "INFO") {
        return info({
          run_id: key.replace(/\W/g, "").padEnd(40, "0"),
          role: st.role,
          master_host: st.master,
          master_port: 6379,
          master_link_status: masterAlive || st.master !== "10.0.0.1" ? "up" : "down",
          slave_priority: 100,
          slave_repl_offset: st.offset,
          replica_announced: 1,
        });
      }
      if (argv[0] === "SLAVEOF") {
        if (argv[1] === "NO") st.role = "master";
        else st.master = argv[1]!;
      }
      return argv[0] === "PING" ? "PONG" : "OK";
    });
  }
  // A peer sentinel that thinks the master is down once it is, and votes for whoever asks.
  w.answer.set("10.0.0.9:26379", (argv) => {
    if (argv[1] === "is-master-down-by-addr") {
      return [masterAlive ? 0 : 1, argv[5]!, Number(argv[4])];
    }
    return "PONG";
  });
  const connect = (ri: Instance) => {
    ri.link.connected = true;
    ri.link.connectedSince = clock.nowMs();
    mon.linkUp(ri);
  };
  const settle = async () => {
    for (let i = 0; i < 5; i++) await Promise.resolve();
  };
  const step = async (ms: number) => {
    for (let t = 0; t < ms; t += 100) {
      clock.advance(100);
      for (const ri of [m, ...m.replicas.values(), ...m.sentinels.values()]) {
        if (!ri.link.connected) connect(ri);
      }
      mon.tick();
      await settle();
    }
  };

  await step(500);
  equal(m.replicas.size, 2, "replicas discovered from the master's INFO");
  mon.processHello(`10.0.0.9,26379,${"b".repeat(40)},0,mymaster,10.0.0.1,6379,0`);
  equal(m.sentinels.size, 1, "a peer discovered from its hello");
  await step(2000);
  ok(!m.sdown);

  // The master stops answering.
  masterAlive = false;
  w.answer.set("10.0.0.1:6379", null);
  const until = async (what: string, cond: () => boolean, maxMs: number) => {
    for (let t = 0; t < maxMs && !cond(); t += 100) await step(100);
    ok(cond(), `${what}:\n${w.events.join("\n")}`);
  };
  // The next PING goes out within a ping period; it is unanswered for down-after-milliseconds.
  await until("SDOWN after down-after-milliseconds", () => m.sdown, 2500);
  await until("ODOWN once the peer agrees", () => m.odown, 1500);
  // The failover starts after a random delay, elects this sentinel and promotes r2 (offset 100).
  await until("the switch", () => w.events.some((e) => e.startsWith("+switch-master")), 10_000);
  const order = [
    "+sdown master",
    "+odown master mymaster 10.0.0.1 6379 #quorum 2/2",
    "+try-failover",
    "+elected-leader master mymaster",
    "+selected-slave slave 10.0.0.3:6379",
    "+failover-state-wait-promotion",
    "+promoted-slave slave 10.0.0.3:6379",
    "+slave-reconf-sent slave 10.0.0.2:6379",
    "+slave-reconf-done slave 10.0.0.2:6379",
    "+failover-end master mymaster",
    "+switch-master mymaster 10.0.0.1 6379 10.0.0.3 6379",
  ];
  let at = -1;
  for (const prefix of order) {
    const i = w.events.findIndex((e, j) => j > at && e.startsWith(prefix));
    ok(i > at, `${prefix} after the previous step:\n${w.events.join("\n")}`);
    at = i;
  }
  const promote = w.sent.filter((s) =>
    s.to === "10.0.0.3:6379" && !["PING", "INFO", "PUBLISH"].includes(s.argv[0]!)
  ).map((s) => s.argv.join(" "));
  deepStrictEqual(promote.slice(0, 6), [
    "MULTI",
    "SLAVEOF NO ONE",
    "CONFIG REWRITE",
    "CLIENT KILL TYPE normal",
    "CLIENT KILL TYPE pubsub",
    "EXEC",
  ]);
  equal(m.host, "10.0.0.3");
  equal(m.failoverState, "none");
  equal(m.configEpoch, cfg.currentEpoch, "the new configuration carries the failover's epoch");
  deepStrictEqual([...m.replicas.keys()].sort(), ["10.0.0.1:6379", "10.0.0.2:6379"]);
  ok(w.saves > 0);
});

Deno.test("monitor: one vote per epoch, for the first sentinel that asks", () => {
  const clock = new FakeClock(5_000);
  const cfg = defaultConfig();
  cfg.myid = "a".repeat(40);
  cfg.masters.set("m", newMasterConfig("m", "10.0.0.1", 6379, 2));
  const mon = new Monitor(cfg, clock, seededRandom(1), new FakeWorld());
  const m = mon.masters.get("m")!;
  deepStrictEqual(mon.voteLeader(m, 3, "b".repeat(40)), { leader: "b".repeat(40), epoch: 3 });
  equal(cfg.currentEpoch, 3);
  // Another candidate in the same epoch gets the same answer: the vote is taken.
  deepStrictEqual(mon.voteLeader(m, 3, "c".repeat(40)), { leader: "b".repeat(40), epoch: 3 });
  // A later epoch gets a new vote.
  deepStrictEqual(mon.voteLeader(m, 4, "c".repeat(40)), { leader: "c".repeat(40), epoch: 4 });
});

Deno.test("monitor: a rebooted master is down once it answers no PONG for master-reboot-down-after-period", async () => {
  const clock = new FakeClock(1_000_000);
  const cfg = defaultConfig();
  cfg.myid = "a".repeat(40);
  const mc = newMasterConfig("mymaster", "10.0.0.1", 6379, 1);
  mc.downAfterMs = 60_000;
  mc.masterRebootDownAfterMs = 1000;
  cfg.masters.set("mymaster", mc);
  const w = new FakeWorld();
  const mon = new Monitor(cfg, clock, seededRandom(3), w);
  const m = mon.masters.get("mymaster")!;
  // The master's run_id and what it answers to PING: LOADING is a valid reply, not a PONG.
  let runid = "1".repeat(40);
  let ping: RespValue = "PONG";
  w.answer.set("10.0.0.1:6379", (argv) => {
    if (argv[0] === "INFO") return info({ run_id: runid, role: "master" });
    return argv[0] === "PING" ? ping : 1;
  });
  const step = async (ms: number) => {
    for (let t = 0; t < ms; t += 100) {
      clock.advance(100);
      if (!m.link.connected) {
        m.link.connected = true;
        m.link.connectedSince = clock.nowMs();
        mon.linkUp(m);
      }
      mon.tick();
      for (let i = 0; i < 5; i++) await Promise.resolve();
    }
  };
  await step(1000);
  ok(m.runid === runid && !m.sdown);

  // Restarted: a new run_id, and LOADING to every PING while the dataset loads.
  runid = "2".repeat(40);
  ping = new RespError("LOADING Redis is loading the dataset in memory");
  // INFO goes out every 10 s: the restart is seen within that.
  for (let t = 0; t < 11_000 && m.rebootSince === 0; t += 100) await step(100);
  ok(w.events.some((e) => e.startsWith("+reboot master")), w.events.join("\n"));
  ok(!m.sdown, "not down as soon as the restart is seen");
  await step(700);
  ok(!m.sdown, "not down within the period");
  await step(600);
  ok(m.sdown, `down once the period passed without a PONG:\n${w.events.join("\n")}`);
  // Loaded: the first PONG clears it.
  ping = "PONG";
  await step(1500);
  ok(!m.sdown, "up again after a PONG");
  equal(m.rebootSince, 0);
  await step(3000);
  ok(!m.sdown, "and stays up");
});

Deno.test("monitor: after a switch, a failover of the new master may start at once", async () => {
  const clock = new FakeClock(1_000_000);
  const cfg = defaultConfig();
  cfg.myid = "a".repeat(40);
  const mc = newMasterConfig("mymaster", "10.0.0.1", 6379, 1);
  mc.downAfterMs = 200;
  mc.failoverTimeoutMs = 30_000;
  cfg.masters.set("mymaster", mc);
  const w = new FakeWorld();
  const mon = new Monitor(cfg, clock, seededRandom(5), w);
  const m = mon.masters.get("mymaster")!;
  const node = (role: string) => (argv: string[]) =>
    argv[0] === "INFO" ? info({ run_id: role[0]!.repeat(40), role }) : "PONG";
  w.answer.set("10.0.0.1:6379", node("master"));
  w.answer.set("10.0.0.3:6379", node("master"));
  const step = async (ms: number) => {
    for (let t = 0; t < ms; t += 100) {
      clock.advance(100);
      if (!m.link.connected) {
        m.link.connected = m.link.pubsubConnected = true;
        m.link.connectedSince = clock.nowMs();
        mon.linkUp(m);
      }
      mon.tick();
      for (let i = 0; i < 5; i++) await Promise.resolve();
    }
  };
  await step(500);
  // This sentinel votes for a peer's failover (which delays its own), then the peer's hello
  // announces the new master: the failover it voted for is over.
  const peer = "b".repeat(40);
  deepStrictEqual(mon.voteLeader(m, 1, peer), { leader: peer, epoch: 1 });
  mon.processHello(`10.0.0.9,26379,${peer},1,mymaster,10.0.0.3,6379,1`);
  equal(m.host, "10.0.0.3");
  // The old master is a replica now, announced as Redis announces every re-added replica.
  ok(
    w.events.includes("+slave slave 10.0.0.1:6379 10.0.0.1 6379 @ mymaster 10.0.0.3 6379"),
    w.events.join("\n"),
  );
  // No vote is remembered after the reset: the epoch is, and its request gets no leader.
  deepStrictEqual(mon.voteLeader(m, 1, "c".repeat(40)), { leader: null, epoch: 1 });
  await step(500);
  ok(!m.sdown);

  // The new master dies at once: this sentinel (quorum 1) fails it over without waiting twice
  // the failover-timeout since its vote.
  w.answer.set("10.0.0.3:6379", null);
  for (let t = 0; t < 3000 && !w.events.some((e) => e.startsWith("+try-failover")); t += 100) {
    await step(100);
  }
  ok(m.odown, w.events.join("\n"));
  ok(
    w.events.some((e) => e.startsWith("+try-failover master mymaster 10.0.0.3")),
    w.events.join("\n"),
  );
  ok(!w.events.some((e) => e.startsWith("failover-delay")), w.events.join("\n"));
});

Deno.test("monitor: SENTINEL RESET forgets the replicas without announcing them", () => {
  const clock = new FakeClock(1_000_000);
  const cfg = defaultConfig();
  cfg.myid = "a".repeat(40);
  const mc: MasterConfig = newMasterConfig("mymaster", "10.0.0.1", 6379, 1);
  mc.knownReplicas = [{ host: "10.0.0.2", port: 6379 }];
  cfg.masters.set("mymaster", mc);
  const w = new FakeWorld();
  const mon = new Monitor(cfg, clock, seededRandom(5), w);
  const m = mon.masters.get("mymaster")!;
  mon.reset(m);
  equal(m.replicas.size, 0);
  deepStrictEqual(w.events, ["+reset-master master mymaster 10.0.0.1 6379"]);
});

Deno.test("monitor: +convert-to-slave is told when SLAVEOF goes out, even to a node still loading", async () => {
  const clock = new FakeClock(1_000_000);
  const cfg = defaultConfig();
  cfg.myid = "a".repeat(40);
  const mc: MasterConfig = newMasterConfig("mymaster", "10.0.0.3", 6379, 1);
  mc.downAfterMs = 200;
  // The old master, back after a failover: it says it is a master and loads its data.
  mc.knownReplicas = [{ host: "10.0.0.1", port: 6379 }];
  cfg.masters.set("mymaster", mc);
  const w = new FakeWorld();
  const mon = new Monitor(cfg, clock, seededRandom(5), w);
  const m = mon.masters.get("mymaster")!;
  const old = m.replicas.get("10.0.0.1:6379")!;
  w.answer.set(
    "10.0.0.3:6379",
    (argv) => argv[0] === "INFO" ? info({ run_id: "3".repeat(40), role: "master" }) : "PONG",
  );
  w.answer.set("10.0.0.1:6379", (argv) => {
    if (argv[0] === "INFO") return info({ run_id: "1".repeat(40), role: "master" });
    return new RespError("LOADING Redis is loading the dataset in memory");
  });
  const step = async (ms: number) => {
    for (let t = 0; t < ms; t += 100) {
      clock.advance(100);
      for (const ri of [m, old]) {
        if (ri.link.connected) continue;
        ri.link.connected = ri.link.pubsubConnected = true;
        ri.link.connectedSince = clock.nowMs();
        mon.linkUp(ri);
      }
      mon.tick();
      for (let i = 0; i < 5; i++) await Promise.resolve();
    }
  };
  // Its role is re-read every 10 s; it has claimed master for longer than 4 publish periods
  // on the second reading.
  await step(12_000);
  const slaveof = w.sent.filter((x) => x.to === "10.0.0.1:6379" && x.argv[0] === "SLAVEOF");
  ok(slaveof.length > 0, "SLAVEOF sent to the old master");
  deepStrictEqual(slaveof[0]!.argv, ["SLAVEOF", "10.0.0.3", "6379"]);
  ok(
    w.events.includes(
      "+convert-to-slave slave 10.0.0.1:6379 10.0.0.1 6379 @ mymaster 10.0.0.3 6379",
    ),
    w.events.join("\n"),
  );
});
