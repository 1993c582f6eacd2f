package rfy.bench;

import java.lang.management.ManagementFactory;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.flink.api.common.JobExecutionResult;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.runtime.minicluster.MiniCluster;
import org.apache.flink.runtime.minicluster.MiniClusterConfiguration;
import org.apache.flink.table.api.EnvironmentSettings;
import org.apache.flink.table.api.Schema;
import org.apache.flink.table.api.Table;
import org.apache.flink.table.api.TableDescriptor;
import org.apache.flink.table.api.TableEnvironment;
import org.apache.flink.table.api.TableResult;

/**
 * The benchmark side of {@link FlinkNexmark}: every query at every parallelism, one after another, in ONE JVM
 * and ONE MiniCluster (started once; jobs go to it as to a session cluster), each into a blackhole sink.
 *
 * <p>Usage: {@code FlinkNexmarkBench --events FILE --queries q0,q1,... --parallelisms 1,2}.
 *
 * <p>Per job it prints one line {@code nexmark-bench flink QUERY P job=S cpu=S rss_mb=M}: job = the job's net
 * runtime as the JobManager reports it (running to finished); cpu = this process's CPU time (all threads: tasks,
 * JIT, GC) from the job's submission (SQL planning done) to its result; rss_mb = the highest resident set
 * size sampled every 50 ms during the job. JVM start-up, MiniCluster start-up and SQL planning are outside all
 * three, as rfy's cluster start-up is outside its figures (bench/bench_nexmark.py). The first query runs
 * once unreported before the measured jobs, so that every measured job finds the JIT warm.
 */
public final class FlinkNexmarkBench {
  /** Resident set size of this process, bytes ({@code /proc/self/status} VmRSS). */
  static long rssBytes() {
    try {
      for (String l : Files.readAllLines(Path.of("/proc/self/status"))) {
        if (l.startsWith("VmRSS:")) return Long.parseLong(l.replaceAll("[^0-9]", "")) * 1024;
      }
    } catch (Exception e) {
      // not Linux: no RSS figure
    }
    return 0;
  }

  static long cpuNanos() {
    return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
        .getProcessCpuTime();
  }

  /** Runs query {@code q} at parallelism {@code p} on the cluster at {@code rest}; prints its line. */
  static void runJob(URI rest, String path, String q, int p, AtomicLong peak, String label) throws Exception {
    Configuration conf = new Configuration();
    conf.setString("execution.target", "remote");
    conf.setString("rest.address", rest.getHost());
    conf.setString("rest.port", Integer.toString(rest.getPort()));
    conf.setString("parallelism.default", Integer.toString(p));
    TableEnvironment t =
        TableEnvironment.create(EnvironmentSettings.newInstance().inStreamingMode().withConfiguration(conf).build());
    t.executeSql(FlinkNexmark.ddl(path));
    for (String v : FlinkNexmark.VIEWS) t.executeSql(v);
    Table result = t.sqlQuery(FlinkNexmark.query(q));
    TableDescriptor sink = TableDescriptor.forConnector("blackhole")
        .schema(Schema.newBuilder().fromResolvedSchema(result.getResolvedSchema()).build()).build();
    TableResult r = result.executeInsert(sink); // planned and submitted; runs asynchronously
    long cpu0 = cpuNanos();
    peak.set(rssBytes());
    JobClient job = r.getJobClient().orElseThrow();
    JobExecutionResult done = job.getJobExecutionResult().get();
    long cpu = cpuNanos() - cpu0;
    String line = String.format("%s flink %s %d job=%.3f cpu=%.3f rss_mb=%.0f", label == null ? "nexmark-bench"
        : label, q, p, done.getNetRuntime() / 1e3, cpu / 1e9, peak.get() / 1048576.0);
    (label == null ? System.out : System.err).println(line);
    System.out.flush();
  }

  public static void main(String[] args) throws Exception {
    String events = null;
    List<String> queries = new ArrayList<>();
    List<Integer> pars = new ArrayList<>();
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--events": events = args[++i]; break;
        case "--queries": for (String q : args[++i].split("[, ]+")) if (!q.isEmpty()) queries.add(q); break;
        case "--parallelisms": for (String p : args[++i].split("[, ]+")) pars.add(Integer.parseInt(p)); break;
        default: throw new IllegalArgumentException("unknown argument " + args[i]);
      }
    }
    if (events == null || queries.isEmpty() || pars.isEmpty()) {
      throw new IllegalArgumentException("--events FILE --queries q0,q1 --parallelisms 1,2 needed");
    }
    if (!Files.isRegularFile(Path.of(events))) throw new IllegalArgumentException(events + ": no such file");
    for (String q : queries) FlinkNexmark.query(q); // fail on an unknown query before starting anything
    String path = Path.of(events).toAbsolutePath().toString();
    int slots = pars.stream().mapToInt(Integer::intValue).max().getAsInt();

    Configuration clusterConf = new Configuration();
    clusterConf.setString("rest.port", "0");
    clusterConf.setString("rest.bind-port", "0");
    MiniCluster cluster = new MiniCluster(new MiniClusterConfiguration.Builder()
        .setConfiguration(clusterConf).setNumTaskManagers(1).setNumSlotsPerTaskManager(slots).build());
    cluster.start();
    URI rest = cluster.getRestAddress().get();

    AtomicLong peak = new AtomicLong();
    Thread sampler = new Thread(() -> {
      while (true) {
        peak.accumulateAndGet(rssBytes(), Math::max);
        try {
          Thread.sleep(50);
        } catch (InterruptedException e) {
          return;
        }
      }
    });
    sampler.setDaemon(true);
    sampler.start();

    try {
      // One unreported run of the first query first, so the JIT is warm for every reported job alike.
      runJob(rest, path, queries.get(0), pars.get(0), peak, "warm-up");
      for (String q : queries) {
        for (int p : pars) {
          runJob(rest, path, q, p, peak, null);
        }
      }
    } finally {
      sampler.interrupt();
      cluster.close();
    }
  }
}
