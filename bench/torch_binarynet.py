# PyTorch counterpart of bench/train.ts: the same BinaryNet as src/models/binarynet.ts (first conv 'valid', pool
# before BN, BN without scale, eps 1e-3, ste_sign on every layer's input except the first, binary kernels trained by
# Bop (gamma 1e-4, tau 1e-8), Adam(0.01) on the BN betas, softmax cross-entropy), batch of random CIFAR-shaped data.
# Run: /usr/bin/python3 bench/torch_binarynet.py <width> <batch> <steps> <threads>
# Prints: RESULT torch <version> threads=<t> width=<w> batch=<b> params=<n> step=<mean ms>ms (first <ms>) best=<min ms>ms
#   img/s=<from mean> best_img/s=<from min> ... (step 1 is warm-up and excluded)
import sys, time, resource
import torch, torch.nn as nn, torch.nn.functional as F

width, B, S, T = float(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
torch.set_num_threads(T)
torch.manual_seed(0)


def lsign(x):  # Larq sign: +1 at 0
    return torch.where(x >= 0, torch.ones_like(x), -torch.ones_like(x))


class SteSign(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return lsign(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * (x.abs() <= 1).to(g.dtype)


ste = SteSign.apply


class QConv(nn.Conv2d):
    def __init__(self, cin, cout, pad, quant_in):
        super().__init__(cin, cout, 3, padding=pad, bias=False)
        self.quant_in = quant_in
        with torch.no_grad():
            self.weight.copy_(lsign(torch.empty_like(self.weight).uniform_(-1, 1)))

    def forward(self, x):
        return F.conv2d(ste(x) if self.quant_in else x, self.weight, None, 1, self.padding)


class QDense(nn.Linear):
    def __init__(self, din, dout):
        super().__init__(din, dout, bias=False)
        with torch.no_grad():
            self.weight.copy_(lsign(torch.empty_like(self.weight).uniform_(-1, 1)))

    def forward(self, x):
        return F.linear(ste(x), self.weight)


def bn2d(c):
    b = nn.BatchNorm2d(c, eps=1e-3, momentum=0.01)
    b.weight.requires_grad_(False)  # scale=False
    return b


def bn1d(c):
    b = nn.BatchNorm1d(c, eps=1e-3, momentum=0.01)
    b.weight.requires_grad_(False)
    return b


u = lambda n: max(1, round(n * width))
C = [u(128), u(128), u(256), u(256), u(512), u(512)]
layers, cin = [], 3
for i, co in enumerate(C):
    layers.append(QConv(cin, co, 0 if i == 0 else 1, i > 0))
    if i % 2 == 1:
        layers.append(nn.MaxPool2d(2))
    layers.append(bn2d(co))
    cin = co
layers.append(nn.Flatten())
din = cin * 3 * 3
for co in [u(1024), u(1024), 10]:
    layers += [QDense(din, co), bn1d(co)]
    din = co
net = nn.Sequential(*layers)
binary = [m.weight for m in net.modules() if isinstance(m, (QConv, QDense))]
betas = [m.bias for m in net.modules() if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d))]
adam = torch.optim.Adam(betas, lr=0.01)
mom = [torch.zeros_like(w) for w in binary]
gamma, tau = 1e-4, 1e-8

x = torch.randn(B, 3, 32, 32)
y = torch.randint(0, 10, (B,))
ts = []
for s in range(S):
    t = time.perf_counter()
    for w in binary:
        w.grad = None
    adam.zero_grad()
    loss = F.cross_entropy(net(x), y)
    loss.backward()
    adam.step()
    with torch.no_grad():  # Bop: m = (1-g) m + g grad; flip w where w*m > tau
        for w, m in zip(binary, mom):
            m.mul_(1 - gamma).add_(w.grad, alpha=gamma)
            w.copy_(torch.where(w * m > tau, -w, w))
    ts.append(time.perf_counter() - t)
steady = ts[1:] if len(ts) > 1 else ts
ms = 1000 * sum(steady) / len(steady)
best = 1000 * min(steady)
ips = B / (ms / 1000)
nparams = sum(p.numel() for p in net.parameters() if p.requires_grad)
print(f"RESULT torch {torch.__version__} threads={torch.get_num_threads()} width={width} batch={B} params={nparams} "
      f"step={ms:.0f}ms (first {1000 * ts[0]:.0f}) best={best:.0f}ms img/s={ips:.1f} best_img/s={B / (best / 1000):.1f} maxRSS={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}MiB "
      f"loss={loss.item():.4f}")
