//! All registered options, with Flink's key names where Flink has the option.
//! Options marked "rfy" in their description are rfy's own, or have a default
//! that differs from Flink's.

use std::time::Duration;

use crate::option::{validate_as, ConfigOption, OptionInfo};
use crate::value::MemorySize;

macro_rules! opt_default {
    () => {
        None
    };
    ($d:literal) => {
        Some($d)
    };
}

macro_rules! opt_default_doc {
    () => {
        "none"
    };
    ($d:literal) => {
        concat!("`", $d, "`")
    };
}

macro_rules! options {
    ($(
        $name:ident : $ty:ident = $key:literal
        $(, default = $d:literal)?
        $(, choices = [$($c:literal),* $(,)?])?
        $(, aliases = [$($a:literal => $b:literal),* $(,)?])?
        $(, min = $min:literal)?
        , $desc:literal ;
    )*) => {
        $(
            #[doc = $desc]
            #[doc = ""]
            #[doc = concat!("Key `", $key, "`, type `", stringify!($ty), "`, default ", opt_default_doc!($($d)?), ".")]
            pub const $name: ConfigOption<$ty> = ConfigOption::new($key, opt_default!($($d)?), $desc);
        )*

        static ALL: &[OptionInfo] = &[$(
            OptionInfo {
                key: $key,
                type_name: stringify!($ty),
                default: opt_default!($($d)?),
                description: $desc,
                choices: &[$($($c),*)?],
                value_aliases: &[$($(($a, $b)),*)?],
                min: opt_default!($($min)?),
                validator: validate_as::<$ty>,
            },
        )*];
    };
}

/// Every registered option, in a stable order (grouped by topic).
pub fn all() -> &'static [OptionInfo] {
    ALL
}

/// The registered option with this exact key, if any (aliases are not resolved).
pub fn find(key: &str) -> Option<&'static OptionInfo> {
    ALL.iter().find(|o| o.key == key)
}

/// Other keys accepted for registered options: (alias, registered key).
/// Flink 2 moved the checkpoint storage options under `execution.checkpointing.*`;
/// both the old and the new names are accepted and stored under the registered key.
pub const KEY_ALIASES: &[(&str, &str)] = &[
    ("execution.checkpointing.dir", "state.checkpoints.dir"),
    ("execution.checkpointing.savepoint-dir", "state.savepoints.dir"),
    ("execution.checkpointing.num-retained", "state.checkpoints.num-retained"),
];

/// The registered option for `key` or for the alias `key` (see [`KEY_ALIASES`]), if any.
pub fn resolve(key: &str) -> Option<&'static OptionInfo> {
    find(key).or_else(|| KEY_ALIASES.iter().find(|(alias, _)| *alias == key).and_then(|(_, target)| find(target)))
}

options! {
    // ---- Job execution -------------------------------------------------------------
    PARALLELISM_DEFAULT: u32 = "parallelism.default", default = "1", min = 1,
        "Default parallelism (number of parallel subtasks) of operators that do not set one.";
    PIPELINE_MAX_PARALLELISM: u32 = "pipeline.max-parallelism", default = "128", min = 1,
        "Maximum parallelism: the number of key groups keyed state is split into; the upper bound for rescaling. rfy: a fixed default of 128 (Flink's -1 derives one).";
    PIPELINE_AUTO_WATERMARK_INTERVAL: Duration = "pipeline.auto-watermark-interval", default = "200 ms",
        "Interval of periodic watermark emission by assign_timestamps_and_watermarks (0 ms = periodic emission off).";
    PIPELINE_JARS: String = "pipeline.jars",
        "The job executable whose code the job's TaskManagers run: a URL on the cluster's file system whose file name is the executable's SHA-256, set by `rfy run -m yarn-session ./exe` (Flink: the job's jars shipped to the cluster). Unset: the cluster's own worker.";
    EXECUTION_RUNTIME_MODE: String = "execution.runtime-mode", default = "STREAMING",
        choices = ["STREAMING", "BATCH", "AUTOMATIC"],
        "Runtime execution mode: STREAMING, BATCH or AUTOMATIC (BATCH when all sources are bounded).";

    // ---- Cluster layout ------------------------------------------------------------
    TASKMANAGER_NUMBER_OF_TASK_SLOTS: u32 = "taskmanager.numberOfTaskSlots", default = "1", min = 1,
        "Number of task slots per TaskManager (each runs one parallel pipeline).";
    LOCAL_NUMBER_TASKMANAGER: u32 = "local.number-taskmanager", default = "1", min = 1,
        "Number of TaskManagers in the embedded local cluster (Flink's MiniCluster key).";

    // ---- Addresses and ports -------------------------------------------------------
    JOBMANAGER_RPC_ADDRESS: String = "jobmanager.rpc.address", default = "localhost",
        "Host name or IP address TaskManagers and clients use to reach the JobManager's RPC endpoint.";
    JOBMANAGER_RPC_PORT: u32 = "jobmanager.rpc.port", default = "6123",
        "TCP port of the JobManager's RPC endpoint (0 = any free port).";
    REST_ADDRESS: String = "rest.address", default = "localhost",
        "Host name or IP address clients use to reach the JobManager's REST endpoint.";
    REST_BIND_ADDRESS: String = "rest.bind-address", default = "127.0.0.1",
        "Local address the REST server binds to (0.0.0.0 for all interfaces).";
    REST_PORT: u32 = "rest.port", default = "8081",
        "TCP port of the REST server (0 = any free port).";
    REST_SERVER_MAX_CONTENT_LENGTH: u32 = "rest.server.max-content-length", default = "104857600",
        "Largest request body, in bytes, the REST server accepts; a larger one is answered 413 with Flink's error body.";
    METRICS_REPORTER_PROM_PORT: String = "metrics.reporter.prom.port",
        "Port or port range (e.g. 9250-9260) of the Prometheus reporter of the JobManager and of every TaskManager; each takes the first free port of the range. Unset: no reporter.";
    ENV_LOG_DIR: String = "env.log.dir",
        "Directory of the JobManager's and TaskManagers' log files, served by the REST API (`/jobmanager/logs`, `/taskmanagers/:id/logs`). On YARN the container's log directory is used when unset. rfy: in the embedded local cluster, setting it makes the process (JobManager and TaskManagers in one) also log to `<dir>/jobmanager.log`.";
    TASKMANAGER_HOST: String = "taskmanager.host",
        "Host name or IP address the TaskManager advertises; unset: the address it reaches the JobManager from.";
    TASKMANAGER_RPC_PORT: u32 = "taskmanager.rpc.port", default = "0",
        "TCP port of the TaskManager's RPC endpoint (0 = any free port).";
    TASKMANAGER_DATA_PORT: u32 = "taskmanager.data.port", default = "0",
        "TCP port of the TaskManager's data (shuffle) server (0 = any free port).";

    // ---- Heartbeats ----------------------------------------------------------------
    HEARTBEAT_INTERVAL: Duration = "heartbeat.interval", default = "1 s",
        "Time between heartbeats between JobManager and TaskManagers. rfy: 1 s, shorter than Flink's 10 s, so a lost TaskManager is noticed within seconds.";
    HEARTBEAT_TIMEOUT: Duration = "heartbeat.timeout", default = "5 s",
        "Time without a heartbeat after which the peer counts as lost. rfy: 5 s, shorter than Flink's 50 s, so a lost TaskManager is noticed within seconds.";

    // ---- Resources and job store ---------------------------------------------------
    SLOT_REQUEST_TIMEOUT: Duration = "slot.request.timeout", default = "5 min",
        "Time a job waits for all its slots (TaskManagers included) before it fails.";
    RESOURCEMANAGER_TASKMANAGER_TIMEOUT: Duration = "resourcemanager.taskmanager-timeout", default = "30 s",
        "Time a TaskManager with no slot taken stays before it is released (YARN: its container is returned).";
    JOBSTORE_MAX_CAPACITY: u32 = "jobstore.max-capacity", default = "2147483647",
        "Number of finished jobs the Dispatcher keeps listed (the oldest go first).";
    JOBSTORE_EXPIRATION_TIME: Duration = "jobstore.expiration-time", default = "1 h",
        "Time a finished job stays listed after it ended.";

    // ---- Network -------------------------------------------------------------------
    TASKMANAGER_MEMORY_SEGMENT_SIZE: MemorySize = "taskmanager.memory.segment-size", default = "32 kb",
        "Size of one network buffer (memory segment), in bytes (Flink's memory-size syntax).";
    TASKMANAGER_NETWORK_MEMORY_BUFFERS_PER_CHANNEL: u32 = "taskmanager.network.memory.buffers-per-channel", default = "2", min = 1,
        "Exclusive network buffers per outgoing/incoming channel (credit-based flow control).";
    EXECUTION_BUFFER_TIMEOUT_INTERVAL: Duration = "execution.buffer-timeout.interval", default = "100 ms",
        "Longest time a partly filled network buffer waits before it is flushed (0 ms = flush every record).";

    // ---- Memory and YARN -----------------------------------------------------------
    JOBMANAGER_MEMORY_PROCESS_SIZE: MemorySize = "jobmanager.memory.process.size", default = "1024m",
        "Total memory of the JobManager process (YARN container size), in bytes (Flink's memory-size syntax).";
    TASKMANAGER_MEMORY_PROCESS_SIZE: MemorySize = "taskmanager.memory.process.size", default = "1024m",
        "Total memory of one TaskManager process (YARN container size), in bytes (Flink's memory-size syntax).";
    TASKMANAGER_MEMORY_FRAMEWORK_HEAP_SIZE: MemorySize = "taskmanager.memory.framework.heap.size", default = "32 mb",
        "Memory of the TaskManager's own machinery (RPC, scheduling, metrics). rfy: default 32 mb (Flink's 128 mb sizes JVM heap objects; rfy has no heap).";
    TASKMANAGER_MEMORY_FRAMEWORK_OFF_HEAP_SIZE: MemorySize = "taskmanager.memory.framework.off-heap.size", default = "16 mb",
        "Framework buffers outside the network pool (gRPC/HTTP I/O). rfy: default 16 mb (Flink's 128 mb is for Netty's direct memory).";
    TASKMANAGER_MEMORY_TASK_HEAP_SIZE: MemorySize = "taskmanager.memory.task.heap.size",
        "Memory for user functions and records in flight. Unset: what is left of Total Flink Memory after the other components.";
    TASKMANAGER_MEMORY_TASK_OFF_HEAP_SIZE: MemorySize = "taskmanager.memory.task.off-heap.size", default = "0 bytes",
        "Memory user functions allocate outside rfy's accounting (native libraries).";
    TASKMANAGER_MEMORY_NETWORK_FRACTION: f64 = "taskmanager.memory.network.fraction", default = "0.1",
        "Fraction of Total Flink Memory for network buffers, bounded by taskmanager.memory.network.min/max.";
    TASKMANAGER_MEMORY_NETWORK_MIN: MemorySize = "taskmanager.memory.network.min", default = "8 mb",
        "Least network buffer memory. rfy: default 8 mb (Flink's 64 mb; rfy's channels hold few, 32 kb buffers).";
    TASKMANAGER_MEMORY_NETWORK_MAX: MemorySize = "taskmanager.memory.network.max", default = "8388607 tb",
        "Most network buffer memory (default: unbounded, as Flink's 'infinite').";
    TASKMANAGER_MEMORY_MANAGED_FRACTION: f64 = "taskmanager.memory.managed.fraction", default = "0.4",
        "Fraction of Total Flink Memory for managed memory (bounds the keyed state), unless taskmanager.memory.managed.size is set.";
    TASKMANAGER_MEMORY_MANAGED_SIZE: MemorySize = "taskmanager.memory.managed.size",
        "Managed memory (bounds the keyed state a TaskManager holds); unset: taskmanager.memory.managed.fraction of Total Flink Memory.";
    TASKMANAGER_MEMORY_JVM_METASPACE_SIZE: MemorySize = "taskmanager.memory.jvm-metaspace.size", default = "0 bytes",
        "Reserved as Flink reserves JVM Metaspace. rfy: default 0 (no JVM, no metaspace); accepted so Flink configurations keep their arithmetic.";
    TASKMANAGER_MEMORY_JVM_OVERHEAD_FRACTION: f64 = "taskmanager.memory.jvm-overhead.fraction", default = "0.1",
        "Fraction of the process memory kept for native overhead (thread stacks, the executable, allocator slack), bounded by min/max.";
    TASKMANAGER_MEMORY_JVM_OVERHEAD_MIN: MemorySize = "taskmanager.memory.jvm-overhead.min", default = "32 mb",
        "Least native overhead. rfy: default 32 mb (Flink's 192 mb covers a JVM's code cache and GC structures).";
    TASKMANAGER_MEMORY_JVM_OVERHEAD_MAX: MemorySize = "taskmanager.memory.jvm-overhead.max", default = "1 gb",
        "Most native overhead.";
    CLIENT_PROGRESS_BAR_DELAY: Duration = "client.progress-bar.delay", default = "1 s",
        "How long a client step (bundle upload, wait for YARN) runs before its progress bar is drawn on stderr (only when stderr is a terminal). rfy only: Flink's CLI draws no bars.";
    YARN_APPMASTER_VCORES: u32 = "yarn.appmaster.vcores", default = "1", min = 1,
        "Virtual cores requested for the YARN ApplicationMaster (JobManager) container.";
    YARN_CONTAINERS_VCORES: u32 = "yarn.containers.vcores", default = "1", min = 1,
        "Virtual cores per TaskManager container. rfy: default 1 (Flink's -1 means the number of slots).";
    YARN_APPLICATION_NAME: String = "yarn.application.name",
        "Name of the YARN application; unset: derived from the job name.";
    YARN_APPLICATION_QUEUE: String = "yarn.application.queue", default = "default",
        "YARN queue the application is submitted to.";
    YARN_APPLICATION_ATTEMPTS: u32 = "yarn.application-attempts", default = "2", min = 1,
        "Number of ApplicationMaster attempts YARN makes (1 = no restart of the JobManager), capped by the ResourceManager's yarn.resourcemanager.am.max-attempts. rfy: default 2 (a new attempt recovers the jobs from their latest checkpoints; Flink: 1 without high availability).";
    YARN_APPLICATION_TYPE: String = "yarn.application.type", default = "rfy",
        "YARN application type shown by YARN. rfy: default 'rfy'.";
    YARN_APPLICATION_ID: String = "yarn.application.id",
        "The YARN application (session or job cluster) the client talks to; unset: the session in the YARN properties file.";
    YARN_PROPERTIES_FILE_LOCATION: String = "yarn.properties-file.location",
        "Directory of the YARN properties file (`.yarn-properties-<user>`) that names the running session; unset: the system's temporary directory (/tmp).";
    YARN_STAGING_DIRECTORY: String = "yarn.staging-directory",
        "HDFS directory where the client uploads the application's files; unset: the submitter's home directory.";
    YARN_BUNDLE_CACHE_MAX_SIZE: MemorySize = "yarn.bundle-cache.max-size", default = "4 gb",
        "rfy's own (Flink ships its jars per application): total size of the content-addressed bundle cache (`<staging>/.rfy/cache/<sha256>`) above which the least recently used entries not used within the last hour are evicted.";
    YARN_BUNDLE_CACHE_MAX_AGE: Duration = "yarn.bundle-cache.max-age", default = "7 d",
        "rfy's own: bundle cache entries not used by a submission for this long are evicted.";

    // ---- Security (Kerberos) --------------------------------------------------------
    SECURITY_KERBEROS_LOGIN_KEYTAB: String = "security.kerberos.login.keytab",
        "Path of a Kerberos keytab the client logs in with on a Kerberized Hadoop cluster (its Hadoop configuration says hadoop.security.authentication=kerberos); needs security.kerberos.login.principal. The ticket is kept in this process's memory only. Unset: the ticket cache (kinit).";
    SECURITY_KERBEROS_LOGIN_PRINCIPAL: String = "security.kerberos.login.principal",
        "Kerberos principal (user@REALM) of security.kerberos.login.keytab; with the ticket cache, the principal the cache must hold.";
    SECURITY_KERBEROS_LOGIN_USE_TICKET_CACHE: bool = "security.kerberos.login.use-ticket-cache", default = "true",
        "Whether the client may use the Kerberos ticket cache (kinit; KRB5CCNAME) when no keytab is configured. false without a keytab: a Kerberized cluster is refused.";

    // ---- Checkpointing -------------------------------------------------------------
    EXECUTION_CHECKPOINTING_INTERVAL: Duration = "execution.checkpointing.interval",
        "Time between the starts of two checkpoints; unset: checkpointing is off.";
    EXECUTION_CHECKPOINTING_MODE: String = "execution.checkpointing.mode", default = "EXACTLY_ONCE",
        choices = ["EXACTLY_ONCE", "AT_LEAST_ONCE"],
        "Checkpointing guarantee: EXACTLY_ONCE (aligned barriers) or AT_LEAST_ONCE.";
    EXECUTION_CHECKPOINTING_TIMEOUT: Duration = "execution.checkpointing.timeout", default = "10 min",
        "Time after which an unfinished checkpoint is aborted.";
    EXECUTION_CHECKPOINTING_MAX_CONCURRENT_CHECKPOINTS: u32 = "execution.checkpointing.max-concurrent-checkpoints", default = "1", min = 1,
        "Maximum number of checkpoints in progress at the same time.";
    EXECUTION_CHECKPOINTING_MIN_PAUSE: Duration = "execution.checkpointing.min-pause", default = "0 ms",
        "Minimum time between the end of one checkpoint and the start of the next.";
    EXECUTION_CHECKPOINTING_CHECKPOINTS_AFTER_TASKS_FINISH: bool = "execution.checkpointing.checkpoints-after-tasks-finish", default = "true",
        "With periodic checkpoints: when a bounded source ends, its tasks flush and wait for one more completed checkpoint before they finish, so sinks commit their last data through a checkpoint (Flink's FLIP-147 final checkpoint).";
    STATE_CHECKPOINTS_DIR: String = "state.checkpoints.dir",
        "Directory (URI, e.g. hdfs:///rfy/checkpoints) where checkpoint data and metadata are stored.";
    STATE_SAVEPOINTS_DIR: String = "state.savepoints.dir",
        "Default directory (URI) for savepoints.";
    EXECUTION_SAVEPOINT_PATH: String = "execution.savepoint.path",
        "Savepoint or retained checkpoint directory to restore the job from (set by `rfy run -s`).";
    STATE_CHECKPOINTS_NUM_RETAINED: u32 = "state.checkpoints.num-retained", default = "1", min = 1,
        "Number of completed checkpoints kept.";
    IO_TMP_DIRS: String = "io.tmp.dirs",
        "Directories for temporary files, separated by ',' (rfy: the on-disk state of state.backend.type embedded-lsm goes under the first); unset: YARN's LOCAL_DIRS in a container, else the system's temporary directory.";
    STATE_BACKEND_TYPE: String = "state.backend.type", default = "hashmap",
        choices = ["hashmap", "embedded-lsm"],
        "Where keyed state lives: hashmap (objects on the heap, bounded by managed memory) or embedded-lsm (serialized in an embedded LSM tree on the TaskManager's local disk, YARN's LOCAL_DIRS or the temporary directory, with managed memory as its caches and write buffers; state may outgrow memory). rfy: no rocksdb.";

    // ---- Restart strategies --------------------------------------------------------
    RESTART_STRATEGY_TYPE: String = "restart-strategy.type",
        choices = ["none", "fixed-delay", "exponential-delay", "failure-rate"],
        aliases = ["off" => "none", "disable" => "none"],
        "Restart strategy after a task failure: none, fixed-delay, exponential-delay or failure-rate; unset: none without checkpointing, exponential-delay with it.";
    RESTART_STRATEGY_FIXED_DELAY_ATTEMPTS: u32 = "restart-strategy.fixed-delay.attempts", default = "1",
        "fixed-delay: number of restart attempts before the job fails.";
    RESTART_STRATEGY_FIXED_DELAY_DELAY: Duration = "restart-strategy.fixed-delay.delay", default = "1 s",
        "fixed-delay: time between two restart attempts.";
    RESTART_STRATEGY_EXPONENTIAL_DELAY_INITIAL_BACKOFF: Duration = "restart-strategy.exponential-delay.initial-backoff", default = "1 s",
        "exponential-delay: time before the first restart.";
    RESTART_STRATEGY_EXPONENTIAL_DELAY_MAX_BACKOFF: Duration = "restart-strategy.exponential-delay.max-backoff", default = "1 min",
        "exponential-delay: upper bound of the time between restarts.";
    RESTART_STRATEGY_EXPONENTIAL_DELAY_BACKOFF_MULTIPLIER: f64 = "restart-strategy.exponential-delay.backoff-multiplier", default = "1.5",
        "exponential-delay: factor the delay grows by after each failure.";
    RESTART_STRATEGY_EXPONENTIAL_DELAY_RESET_BACKOFF_THRESHOLD: Duration = "restart-strategy.exponential-delay.reset-backoff-threshold", default = "1 h",
        "exponential-delay: time without failure after which the delay goes back to the initial backoff.";
    RESTART_STRATEGY_EXPONENTIAL_DELAY_JITTER_FACTOR: f64 = "restart-strategy.exponential-delay.jitter-factor", default = "0.1",
        "exponential-delay: random share (0.0 to 1.0) added to or taken from each delay, so that many jobs do not restart at once.";
    RESTART_STRATEGY_EXPONENTIAL_DELAY_ATTEMPTS_BEFORE_RESET_BACKOFF: u32 = "restart-strategy.exponential-delay.attempts-before-reset-backoff", default = "2147483647",
        "exponential-delay: number of restart attempts before the job fails (2147483647 = unlimited).";
    RESTART_STRATEGY_FAILURE_RATE_MAX_FAILURES_PER_INTERVAL: u32 = "restart-strategy.failure-rate.max-failures-per-interval", default = "1",
        "failure-rate: number of failures within one interval that fails the job.";
    RESTART_STRATEGY_FAILURE_RATE_FAILURE_RATE_INTERVAL: Duration = "restart-strategy.failure-rate.failure-rate-interval", default = "1 min",
        "failure-rate: length of the interval failures are counted in.";
    RESTART_STRATEGY_FAILURE_RATE_DELAY: Duration = "restart-strategy.failure-rate.delay", default = "1 s",
        "failure-rate: time between two restart attempts.";
}
