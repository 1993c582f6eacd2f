//! StreamGraph → JobGraph: resolve parallelism and partitioning, then chain
//! operators. An edge chains when its producer has exactly one output, its
//! consumer exactly one input, both run at the same parallelism, and the edge
//! is forward — or both sides have parallelism 1, where every partitioning
//! sends everything to the one consumer subtask, so it is a forward edge too.

use super::job::{ChainedOperator, JobEdge, JobGraph, JobVertex, JOB_GRAPH_VERSION};
use super::stream::{NodeBuilder, Partitioning, StreamGraph};
use crate::error::JobError;

impl StreamGraph {
    /// Effective parallelism of every node.
    ///
    /// Errors: a node asked for more than it supports (non-parallel source),
    /// a parallelism of 0, or a keyed operator above the max parallelism.
    pub fn parallelisms(&self) -> Result<Vec<u32>, JobError> {
        let default = self.config.parallelism;
        if default == 0 {
            return Err(JobError::InvalidGraph("parallelism must be at least 1".into()));
        }
        self.nodes
            .iter()
            .map(|n| {
                let p = match (n.parallelism, n.parallelism_limit) {
                    (Some(p), Some(limit)) if p > limit => {
                        return Err(JobError::InvalidGraph(format!(
                            "operator '{}' supports a parallelism of at most {limit}, not {p}",
                            n.name
                        )))
                    }
                    (Some(p), _) => p,
                    (None, Some(limit)) => default.min(limit),
                    (None, None) => default,
                };
                if p == 0 {
                    return Err(JobError::InvalidGraph(format!("operator '{}' has parallelism 0", n.name)));
                }
                if n.keyed && p > self.config.max_parallelism {
                    return Err(JobError::InvalidGraph(format!(
                        "keyed operator '{}' has parallelism {p}, above the max parallelism {} (pipeline.max-parallelism)",
                        n.name, self.config.max_parallelism
                    )));
                }
                Ok(p)
            })
            .collect()
    }

    /// The resolved partitioning of every edge.
    fn partitionings(&self, par: &[u32]) -> Result<Vec<Partitioning>, JobError> {
        self.edges
            .iter()
            .map(|e| {
                let (ps, pt) = (par[e.source], par[e.target]);
                match (e.partitioning, e.explicit) {
                    (Partitioning::Forward, true) if ps != pt => Err(JobError::InvalidGraph(format!(
                        "forward edge from '{}' (parallelism {ps}) to '{}' (parallelism {pt}): forward needs equal parallelism",
                        self.nodes[e.source].name, self.nodes[e.target].name
                    ))),
                    (Partitioning::Forward, false) if ps != pt => Ok(Partitioning::Rebalance),
                    (p, _) => Ok(p),
                }
            })
            .collect()
    }

    /// Builds the JobGraph (chaining, resolved parallelism and partitioning).
    ///
    /// Errors: [`JobError::InvalidGraph`] naming the operator or edge at fault.
    pub fn job_graph(&self) -> Result<JobGraph, JobError> {
        if self.nodes.is_empty() {
            return Err(JobError::InvalidGraph("the job defines no operators".into()));
        }
        let par = self.parallelisms()?;
        let parts = self.partitionings(&par)?;
        let mut vertex_of = vec![u32::MAX; self.nodes.len()];
        let mut vertices: Vec<JobVertex> = Vec::new();
        for node in &self.nodes {
            let inputs: Vec<usize> = (0..self.edges.len()).filter(|&i| self.edges[i].target == node.id).collect();
            if inputs.is_empty() && !matches!(node.builder, NodeBuilder::Source(_)) {
                return Err(JobError::InvalidGraph(format!("operator '{}' has no input", node.name)));
            }
            let chain_to = match inputs.as_slice() {
                [only] => {
                    let e = &self.edges[*only];
                    let up_outputs = self.edges.iter().filter(|x| x.source == e.source).count();
                    let same = par[e.source] == par[node.id];
                    let forwardish = parts[*only] == Partitioning::Forward || (par[e.source] == 1 && par[node.id] == 1);
                    let side = e.side_output.is_some();
                    (up_outputs == 1 && same && forwardish && !side).then_some(vertex_of[e.source])
                }
                _ => None,
            };
            let op = ChainedOperator { node_id: node.id, name: node.name.clone(), uid: node.uid.clone() };
            match chain_to {
                Some(v) => {
                    let vx = &mut vertices[v as usize];
                    vx.name = format!("{} -> {}", vx.name, node.name);
                    vx.operators.push(op);
                    vertex_of[node.id] = v;
                }
                None => {
                    let id = vertices.len() as u32;
                    vertices.push(JobVertex {
                        id,
                        name: node.name.clone(),
                        parallelism: par[node.id],
                        max_parallelism: self.config.max_parallelism,
                        operators: vec![op],
                    });
                    vertex_of[node.id] = id;
                }
            }
        }
        let mut edges = Vec::new();
        for (i, e) in self.edges.iter().enumerate() {
            let (s, t) = (vertex_of[e.source], vertex_of[e.target]);
            if s != t {
                edges.push(JobEdge {
                    index: edges.len() as u32,
                    source: s,
                    target: t,
                    partitioning: parts[i],
                    stream_edge: i,
                });
            }
        }
        Ok(JobGraph {
            version: JOB_GRAPH_VERSION,
            job_name: self.job_name.clone(),
            program: self.program.clone(),
            args: self.args.clone(),
            config: self.config,
            runtime_mode: self.runtime_mode(),
            max_parallelism: self.config.max_parallelism,
            vertices,
            edges,
        })
    }
}
