//! The TaskManager's memory model: Flink's components derived from
//! `taskmanager.memory.process.size` with Flink's arithmetic
//! (`TaskExecutorProcessUtils`, `ProcessMemoryUtils`,
//! `TaskExecutorFlinkMemoryUtils` in flink-runtime).
//!
//! ```text
//! Total Process Memory = Total Flink Memory + JVM Metaspace + JVM Overhead
//! Total Flink Memory   = Framework Heap + Framework Off-Heap + Task Heap + Task Off-Heap + Network + Managed
//! ```
//!
//! rfy has no JVM. What each component means in rfy, and what rfy enforces:
//! - JVM Overhead: native overhead (thread stacks, the executable's pages,
//!   allocator slack): reserved, not enforced on its own.
//! - JVM Metaspace: there is none; default 0, reserved when set (so a Flink
//!   configuration keeps its arithmetic).
//! - Framework Heap / Off-Heap: the TaskManager's own RPC, scheduling,
//!   metrics and I/O buffers: reserved, not enforced on their own.
//! - Task Heap / Task Off-Heap: records in flight and user functions: the remainder.
//! - Network: bounds the exchange's buffers (channels × buffers per channel
//!   × segment size) of the tasks a TaskManager runs.
//! - Managed: bounds the keyed state a TaskManager holds (heap state backend).
//!
//! The whole resident set is guarded against Total Process Memory too.

use crate::options;
use crate::{Configuration, MemorySize};

/// A TaskManager's memory, component by component, in bytes; Flink's
/// `TaskExecutorMemoryConfiguration` (the REST field names are in the docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TaskExecutorMemory {
    /// `frameworkHeap`: `taskmanager.memory.framework.heap.size`.
    pub framework_heap: u64,
    /// `taskHeap`: `taskmanager.memory.task.heap.size`, or the remainder.
    pub task_heap: u64,
    /// `frameworkOffHeap`: `taskmanager.memory.framework.off-heap.size`.
    pub framework_off_heap: u64,
    /// `taskOffHeap`: `taskmanager.memory.task.off-heap.size`.
    pub task_off_heap: u64,
    /// `networkMemory`: `taskmanager.memory.network.fraction` of Total Flink Memory within `min`..=`max`.
    pub network: u64,
    /// `managedMemory`: `taskmanager.memory.managed.size`, or its `fraction` of Total Flink Memory.
    pub managed: u64,
    /// `jvmMetaspace`: `taskmanager.memory.jvm-metaspace.size` (rfy: 0 by default).
    pub jvm_metaspace: u64,
    /// `jvmOverhead`: `taskmanager.memory.jvm-overhead.fraction` of the process within `min`..=`max`.
    pub jvm_overhead: u64,
    /// `totalFlinkMemory`: the process minus metaspace and overhead.
    pub total_flink: u64,
    /// `totalProcessMemory`: `taskmanager.memory.process.size` (the YARN container).
    pub total_process: u64,
}

/// Why the components do not fit: a one-line message naming the options.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("TaskManager memory configuration failed: {0}")]
pub struct MemoryConfigError(pub String);

/// `base × fraction` as Flink computes it: the fraction is a Java `float`
/// widened to `double`, the product truncated to whole bytes
/// (`MemorySize.multiply`).
fn fraction_of(base: u64, fraction: f64) -> u64 {
    (base as f64 * f64::from(fraction as f32)) as u64
}

fn show(bytes: u64) -> String {
    let text = MemorySize(bytes).to_string();
    if text.ends_with("bytes") {
        text
    } else {
        format!("{text} ({bytes} bytes)")
    }
}

/// `fraction` of `base`, capped to `min..=max` (Flink's `RangeFraction`).
fn range_fraction(
    base: u64,
    fraction: f64,
    min: u64,
    max: u64,
    keys: (&str, &str, &str),
) -> Result<u64, MemoryConfigError> {
    if !(0.0..1.0).contains(&fraction) {
        return Err(MemoryConfigError(format!("{} must be in [0, 1), got {fraction}", keys.0)));
    }
    if min > max {
        return Err(MemoryConfigError(format!(
            "{} ({}) is greater than {} ({})",
            keys.1,
            show(min),
            keys.2,
            show(max)
        )));
    }
    Ok(fraction_of(base, fraction).clamp(min, max))
}

impl TaskExecutorMemory {
    /// Derives the components from `conf` as Flink does from
    /// `taskmanager.memory.process.size` (rfy's defaults where
    /// `rfy_conf::options` says so).
    ///
    /// Errors: metaspace and overhead exceed the process; the fixed
    /// components, managed and network memory exceed Total Flink Memory; a
    /// fraction outside `[0, 1)`; a min above its max. Each names the options.
    pub fn derive(conf: &Configuration) -> Result<Self, MemoryConfigError> {
        let size = |o: &crate::ConfigOption<MemorySize>| conf.get(o).bytes();
        let total_process = size(&options::TASKMANAGER_MEMORY_PROCESS_SIZE);
        let jvm_metaspace = size(&options::TASKMANAGER_MEMORY_JVM_METASPACE_SIZE);
        let jvm_overhead = range_fraction(
            total_process,
            conf.get(&options::TASKMANAGER_MEMORY_JVM_OVERHEAD_FRACTION),
            size(&options::TASKMANAGER_MEMORY_JVM_OVERHEAD_MIN),
            size(&options::TASKMANAGER_MEMORY_JVM_OVERHEAD_MAX),
            (
                options::TASKMANAGER_MEMORY_JVM_OVERHEAD_FRACTION.key,
                options::TASKMANAGER_MEMORY_JVM_OVERHEAD_MIN.key,
                options::TASKMANAGER_MEMORY_JVM_OVERHEAD_MAX.key,
            ),
        )?;
        let Some(total_flink) = total_process.checked_sub(jvm_metaspace + jvm_overhead) else {
            return Err(MemoryConfigError(format!(
                "sum of JVM Metaspace {} and JVM Overhead {} exceeds taskmanager.memory.process.size {}; raise \
                 taskmanager.memory.process.size or lower taskmanager.memory.jvm-overhead.min",
                show(jvm_metaspace),
                show(jvm_overhead),
                show(total_process)
            )));
        };
        let framework_heap = size(&options::TASKMANAGER_MEMORY_FRAMEWORK_HEAP_SIZE);
        let framework_off_heap = size(&options::TASKMANAGER_MEMORY_FRAMEWORK_OFF_HEAP_SIZE);
        let task_off_heap = size(&options::TASKMANAGER_MEMORY_TASK_OFF_HEAP_SIZE);
        let managed = match conf.get_optional(&options::TASKMANAGER_MEMORY_MANAGED_SIZE) {
            Some(s) => s.bytes(),
            None => {
                let fraction = conf.get(&options::TASKMANAGER_MEMORY_MANAGED_FRACTION);
                if !(0.0..1.0).contains(&fraction) {
                    return Err(MemoryConfigError(format!(
                        "{} must be in [0, 1), got {fraction}",
                        options::TASKMANAGER_MEMORY_MANAGED_FRACTION.key
                    )));
                }
                fraction_of(total_flink, fraction)
            }
        };
        let fixed = framework_heap + framework_off_heap + task_off_heap + managed;
        let (task_heap, network) = match conf.get_optional(&options::TASKMANAGER_MEMORY_TASK_HEAP_SIZE) {
            // Task heap given: network memory is what is left (Flink does the same).
            Some(heap) => {
                let used = fixed + heap.bytes();
                let Some(network) = total_flink.checked_sub(used) else {
                    return Err(MemoryConfigError(format!(
                        "sum of Framework Heap, Framework Off-Heap, Task Heap, Task Off-Heap and Managed Memory {} \
                         exceeds Total Flink Memory {}; raise taskmanager.memory.process.size or lower those",
                        show(used),
                        show(total_flink)
                    )));
                };
                (heap.bytes(), network)
            }
            None => {
                let network = range_fraction(
                    total_flink,
                    conf.get(&options::TASKMANAGER_MEMORY_NETWORK_FRACTION),
                    size(&options::TASKMANAGER_MEMORY_NETWORK_MIN),
                    size(&options::TASKMANAGER_MEMORY_NETWORK_MAX),
                    (
                        options::TASKMANAGER_MEMORY_NETWORK_FRACTION.key,
                        options::TASKMANAGER_MEMORY_NETWORK_MIN.key,
                        options::TASKMANAGER_MEMORY_NETWORK_MAX.key,
                    ),
                )?;
                let Some(heap) = total_flink.checked_sub(fixed + network) else {
                    return Err(MemoryConfigError(format!(
                        "sum of Framework Heap {}, Framework Off-Heap {}, Task Off-Heap {}, Managed Memory {} and \
                         Network Memory {} exceeds Total Flink Memory {} (taskmanager.memory.process.size {}); raise \
                         taskmanager.memory.process.size or lower taskmanager.memory.managed.fraction/size",
                        show(framework_heap),
                        show(framework_off_heap),
                        show(task_off_heap),
                        show(managed),
                        show(network),
                        show(total_flink),
                        show(total_process)
                    )));
                };
                (heap, network)
            }
        };
        Ok(TaskExecutorMemory {
            framework_heap,
            task_heap,
            framework_off_heap,
            task_off_heap,
            network,
            managed,
            jvm_metaspace,
            jvm_overhead,
            total_flink,
            total_process,
        })
    }

    /// The components in Flink's `TaskExecutorMemoryConfiguration` JSON
    /// field names, in Flink's order, bytes each.
    pub fn fields(&self) -> [(&'static str, u64); 10] {
        [
            ("frameworkHeap", self.framework_heap),
            ("taskHeap", self.task_heap),
            ("frameworkOffHeap", self.framework_off_heap),
            ("taskOffHeap", self.task_off_heap),
            ("networkMemory", self.network),
            ("managedMemory", self.managed),
            ("jvmMetaspace", self.jvm_metaspace),
            ("jvmOverhead", self.jvm_overhead),
            ("totalFlinkMemory", self.total_flink),
            ("totalProcessMemory", self.total_process),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Source;

    fn conf(pairs: &[(&str, &str)]) -> Configuration {
        let mut c = Configuration::default();
        for (k, v) in pairs {
            c.set(k, v, Source::Programmatic).unwrap();
        }
        c
    }

    /// Flink's defaults (metaspace 256m, overhead min 192m, framework 128m
    /// each, network min 64m) for a 1728m process: the numbers a Flink
    /// TaskManager logs as its "Final TaskExecutor Memory configuration".
    #[test]
    fn flinks_defaults_give_flinks_numbers() {
        let m = TaskExecutorMemory::derive(&conf(&[
            ("taskmanager.memory.process.size", "1728m"),
            ("taskmanager.memory.jvm-metaspace.size", "256m"),
            ("taskmanager.memory.jvm-overhead.min", "192m"),
            ("taskmanager.memory.framework.heap.size", "128m"),
            ("taskmanager.memory.framework.off-heap.size", "128m"),
            ("taskmanager.memory.network.min", "64m"),
        ]))
        .unwrap();
        assert_eq!(
            m,
            TaskExecutorMemory {
                framework_heap: 134217728,
                task_heap: 402653174,
                framework_off_heap: 134217728,
                task_off_heap: 0,
                network: 134217730,
                managed: 536870920,
                jvm_metaspace: 268435456,
                jvm_overhead: 201326592,
                total_flink: 1342177280,
                total_process: 1811939328,
            }
        );
    }

    #[test]
    fn rfys_defaults_fit_small_containers_and_add_up() {
        for size in ["192m", "512m", "1024m", "4g"] {
            let m = TaskExecutorMemory::derive(&conf(&[("taskmanager.memory.process.size", size)])).unwrap();
            let parts = m.framework_heap + m.task_heap + m.framework_off_heap + m.task_off_heap + m.network + m.managed;
            assert_eq!(parts, m.total_flink, "{size}: {m:?}");
            assert_eq!(m.total_flink + m.jvm_metaspace + m.jvm_overhead, m.total_process, "{size}");
            assert_eq!(m.jvm_metaspace, 0);
        }
        let m = TaskExecutorMemory::derive(&conf(&[])).unwrap();
        assert_eq!(
            m.jvm_overhead, 107374184,
            "1024m × (double) 0.1f, truncated (Flink's float fraction), above the 32m min"
        );
        assert_eq!(m.managed, fraction_of(m.total_flink, 0.4));
    }

    #[test]
    fn managed_size_and_task_heap_override_the_fractions() {
        let m = TaskExecutorMemory::derive(&conf(&[
            ("taskmanager.memory.process.size", "1g"),
            ("taskmanager.memory.managed.size", "100m"),
            ("taskmanager.memory.task.heap.size", "200m"),
        ]))
        .unwrap();
        assert_eq!(m.managed, 100 << 20);
        assert_eq!(m.task_heap, 200 << 20);
        assert_eq!(
            m.network,
            m.total_flink - (32 << 20) - (16 << 20) - (100 << 20) - (200 << 20),
            "network is the rest"
        );
    }

    #[test]
    fn too_small_a_process_names_the_options() {
        let e = TaskExecutorMemory::derive(&conf(&[
            ("taskmanager.memory.process.size", "1728m"),
            ("taskmanager.memory.jvm-metaspace.size", "2g"),
        ]))
        .unwrap_err()
        .to_string();
        assert!(e.contains("JVM Metaspace 2 gb") && e.contains("raise taskmanager.memory.process.size"), "{e}");
        let e = TaskExecutorMemory::derive(&conf(&[
            ("taskmanager.memory.process.size", "256m"),
            ("taskmanager.memory.managed.size", "1g"),
        ]))
        .unwrap_err()
        .to_string();
        assert!(e.contains("Managed Memory 1 gb") && e.contains("exceeds Total Flink Memory"), "{e}");
        let e = TaskExecutorMemory::derive(&conf(&[("taskmanager.memory.network.fraction", "1.5")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("taskmanager.memory.network.fraction must be in [0, 1)"), "{e}");
    }
}
