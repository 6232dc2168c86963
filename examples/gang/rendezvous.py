"""Each rank reports in to rank 0 over TCP, the way torch.distributed rendezvous does."""

import os
import socket
import time

rank = int(os.environ["SUANLI_NODE_RANK"])
world = int(os.environ["SUANLI_NUM_NODES"])
addr, port = os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"])
devices = os.environ["CUDA_VISIBLE_DEVICES"]
print(f"rank {rank}/{world} on {os.environ['SUANLI_NODE_NAME']} with {os.environ['SUANLI_ACCELERATOR_MODEL']} "
      f"devices {devices}")

if rank == 0:
    server = socket.create_server((addr, port))
    server.settimeout(60)
    peers = []
    for _ in range(world - 1):
        conn, _ = server.accept()
        peers.append(conn.recv(256).decode())
        conn.close()
    print(f"rank 0: the whole gang is here: {sorted(peers)}")
else:
    for _ in range(600):
        try:
            with socket.create_connection((addr, port), timeout=1) as conn:
                conn.sendall(f"rank{rank}:{devices}".encode())
            break
        except OSError:
            time.sleep(0.1)
    else:
        raise SystemExit(f"rank {rank}: could not reach rank 0")
    print(f"rank {rank}: reported to rank 0")
