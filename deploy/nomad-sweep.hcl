# A ruckus sweep as a Nomad batch job: 10 allocations, each runs one shard. Nomad sets
# NOMAD_ALLOC_INDEX (0..count-1) in each allocation; `--shard-from-env 10` reads it.
#
#   nomad job run deploy/nomad-sweep.hcl
#   # when every allocation is complete, on the shared volume:
#   ruckus merge /results/shard-*.jsonl --out all.jsonl
#
# Uses the raw_exec driver with a `ruckus` binary installed on the clients; swap in the docker
# driver and an image if you prefer.
job "ruckus-sweep" {
  type        = "batch"
  datacenters = ["dc1"]

  group "shards" {
    count = 10 # the N of --shard-from-env N

    restart {
      attempts = 3
      mode     = "fail"
    }

    volume "results" {
      type   = "host"
      source = "ruckus-results" # shared storage mounted on every client
    }

    task "sweep" {
      driver = "raw_exec"

      volume_mount {
        volume      = "results"
        destination = "/results"
      }

      config {
        command = "/bin/sh"
        # Exit codes 1, 3, 4 report failures the sweep found; only 2 (bad input) fails the task.
        # --resume lets a restarted allocation continue its shard.
        args = ["-c", <<-EOT
          ruckus sweep lease_lock_no_sync --seeds 100000 --seed 1 \
            --shard-from-env 10 --out /results/shard-$NOMAD_ALLOC_INDEX.jsonl --resume \
            --trace-dir /results/traces
          code=$?
          [ $code -eq 2 ] && exit 2
          exit 0
        EOT
        ]
      }

      resources {
        cpu    = 4000
        memory = 1024
      }
    }
  }
}
