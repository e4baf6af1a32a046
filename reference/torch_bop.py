# An independent implementation of the project's CIFAR-10 protocol in PyTorch, to cross-check the TypeScript
# runs: the same BinaryNet (src/models/binarynet.ts: first conv 'valid' with a real-valued input, pool before BN,
# BN without scale (momentum 0.99, eps 1e-3), ste_sign on every other layer's input, binary last layer, softmax
# cross-entropy), the same data (the first N images of each class, pad-4 random crop + flip on the raw image,
# x/127.5 - 1) and the same optimizers:
#   Bop   m <- (1-g) m + g grad;  w <- -w where w*m > tau (w = +1 where w*m == tau), kernels start glorot-uniform
#         and become +-1 at the first step; Adam(lr) on the BN betas (Keras: eps 1e-7).
#   Adam  latent kernels glorot-uniform, ste_sign in the forward pass, clipped to [-1, 1] after every step,
#         optional Xavier learning-rate scaling sqrt((fan_in + fan_out) / 1.5) per kernel (BinaryConnect).
# Staircase schedules in steps. No code is shared with the TypeScript implementation.
#
# Run (Debian's python3-torch): /usr/bin/python3 reference/torch_bop.py --data DIR --opt bop --gamma 1e-3 \
#   --gamma-decay-steps 700 --tau 1e-6 --width 0.125 --train-per-class 700 --epochs 10 --seed 0
# DIR holds the official CIFAR-10 .bin files (data/cifar10/<source>/ after `npm run data -- cifar10`).
# Prints one JSON line per epoch and a final line 'FINAL {...}'.
import argparse, json, math, os, sys, time
import numpy as np
import torch, torch.nn as nn, torch.nn.functional as F

p = argparse.ArgumentParser()
p.add_argument('--data', required=True)
p.add_argument('--opt', choices=['bop', 'adam'], required=True)
p.add_argument('--width', type=float, default=0.125)
p.add_argument('--train-per-class', type=int, default=700)
p.add_argument('--holdout-per-class', type=int, default=0, help='validate on the next N per class of the training set')
p.add_argument('--test-per-class', type=int, default=0, help='0: the whole 10,000-image test split')
p.add_argument('--epochs', type=int, default=10)
p.add_argument('--batch', type=int, default=50)
p.add_argument('--gamma', type=float, default=1e-4)
p.add_argument('--gamma-decay-steps', type=int, default=0)
p.add_argument('--tau', type=float, default=1e-8)
p.add_argument('--lr', type=float, default=0.01)
p.add_argument('--lr-decay-steps', type=int, default=0)
p.add_argument('--xavier', action='store_true')
p.add_argument('--seed', type=int, default=0)
p.add_argument('--threads', type=int, default=2)
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(a.seed)
rng = np.random.default_rng(a.seed)


def read(files):
    raw = np.concatenate([np.fromfile(os.path.join(a.data, f), dtype=np.uint8).reshape(-1, 3073) for f in files])
    return raw[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).copy(), raw[:, 0].astype(np.int64)


def first_per_class(x, y, start, n):
    idx = np.concatenate([np.where(y == c)[0][start:start + n] for c in range(10)])
    idx.sort()
    return x[idx], y[idx]


xtr_all, ytr_all = read([f'data_batch_{i}.bin' for i in range(1, 6)])
xtr, ytr = first_per_class(xtr_all, ytr_all, 0, a.train_per_class)
if a.holdout_per_class:
    xva, yva = first_per_class(xtr_all, ytr_all, a.train_per_class, a.holdout_per_class)
else:
    xte, yte = read(['test_batch.bin'])
    xva, yva = first_per_class(xte, yte, 0, a.test_per_class) if a.test_per_class else (xte, yte)


def to_t(x):
    return torch.from_numpy(x).permute(0, 3, 1, 2).float() / 127.5 - 1


def augment(x):
    n = len(x)
    pad = np.zeros((n, 40, 40, 3), np.uint8)
    pad[:, 4:36, 4:36] = x
    oy, ox = rng.integers(0, 9, n), rng.integers(0, 9, n)
    out = np.stack([pad[i, oy[i]:oy[i] + 32, ox[i]:ox[i] + 32] for i in range(n)])
    flip = rng.random(n) < 0.5
    out[flip] = out[flip, :, ::-1]
    return out


def lsign(x):
    return torch.where(x >= 0, torch.ones_like(x), -torch.ones_like(x))


class Ste(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return lsign(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * (x.abs() <= 1).to(g.dtype)


latent = a.opt == 'adam'


def glorot(w, fan_in, fan_out):
    lim = math.sqrt(6 / (fan_in + fan_out))
    with torch.no_grad():
        w.uniform_(-lim, lim)


class QConv(nn.Module):
    def __init__(self, cin, cout, pad, qin):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(cout, cin, 3, 3))
        glorot(self.weight, 9 * cin, 9 * cout)
        self.pad, self.qin, self.fans = pad, qin, (9 * cin, 9 * cout)

    def forward(self, x):
        w = Ste.apply(self.weight) if latent else self.weight
        return F.conv2d(Ste.apply(x) if self.qin else x, w, None, 1, self.pad)


class QDense(nn.Module):
    def __init__(self, din, dout):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(dout, din))
        glorot(self.weight, din, dout)
        self.fans = (din, dout)

    def forward(self, x):
        w = Ste.apply(self.weight) if latent else self.weight
        return F.linear(Ste.apply(x), w)


def bn(c, d2=True):
    b = (nn.BatchNorm2d if d2 else nn.BatchNorm1d)(c, eps=1e-3, momentum=0.01)
    b.weight.requires_grad_(False)
    return b


u = lambda n: max(1, round(n * a.width))
c1, c2, c3, d = u(128), u(256), u(512), u(1024)
model = nn.Sequential(
    QConv(3, c1, 0, False), bn(c1), QConv(c1, c1, 1, True), nn.MaxPool2d(2), bn(c1),
    QConv(c1, c2, 1, True), bn(c2), QConv(c2, c2, 1, True), nn.MaxPool2d(2), bn(c2),
    QConv(c2, c3, 1, True), bn(c3), QConv(c3, c3, 1, True), nn.MaxPool2d(2), bn(c3),
    nn.Flatten(), QDense(c3 * 9, d), bn(d, False), QDense(d, d), bn(d, False), QDense(d, 10), bn(10, False))
kernels = [m for m in model if isinstance(m, (QConv, QDense))]
kparams = [m.weight for m in kernels]
betas = [m.bias for m in model if isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d))]
stair = lambda v0, every, step: v0 * (0.1 ** (step // every)) if every else v0

if latent:
    groups = [{'params': [m.weight], 'mult': math.sqrt(sum(m.fans) / 1.5) if a.xavier else 1.0} for m in kernels]
    groups.append({'params': betas, 'mult': 1.0})
else:
    groups = [{'params': betas, 'mult': 1.0}]
adam = torch.optim.Adam(groups, lr=a.lr, eps=1e-7)
mom = [torch.zeros_like(w) for w in kparams]
step = 0


def evaluate(x, y):
    model.eval()
    correct, loss = 0, 0.0
    with torch.no_grad():
        for s in range(0, len(x), 500):
            out = model(to_t(x[s:s + 500]))
            loss += F.cross_entropy(out, torch.from_numpy(y[s:s + 500]), reduction='sum').item()
            correct += (out.argmax(1).numpy() == y[s:s + 500]).sum()
    model.train()
    return loss / len(x), correct / len(x)


t0 = time.time()
spe = len(xtr) // a.batch
for epoch in range(1, a.epochs + 1):
    perm = rng.permutation(len(xtr))
    tl, tc, flips = 0.0, 0, 0
    gamma_used = stair(a.gamma, a.gamma_decay_steps, step)
    lr_used = stair(a.lr, a.lr_decay_steps, step)
    for s in range(spe):
        idx = perm[s * a.batch:(s + 1) * a.batch]
        xb, yb = to_t(augment(xtr[idx])), torch.from_numpy(ytr[idx])
        out = model(xb)
        loss = F.cross_entropy(out, yb)
        adam.zero_grad()
        for w in kparams:
            w.grad = None
        loss.backward()
        lr = stair(a.lr, a.lr_decay_steps, step)
        for g in adam.param_groups:
            g['lr'] = lr * g['mult']
        adam.step()
        with torch.no_grad():
            if latent:
                for w in kparams:
                    w.clamp_(-1, 1)
            else:
                gam = stair(a.gamma, a.gamma_decay_steps, step)
                for w, m in zip(kparams, mom):
                    m.mul_(1 - gam).add_(w.grad, alpha=gam)
                    z = -torch.sign(w * m - a.tau) * w
                    new = lsign(z)
                    if step > 0:
                        flips += (new != w).sum().item()
                    w.copy_(new)
        tl += loss.item() * len(idx)
        tc += (out.argmax(1) == yb).sum().item()
        step += 1
    vl, va = evaluate(xva, yva)
    nk = sum(w.numel() for w in kparams)
    rec = dict(epoch=epoch, step=step, loss=tl / (spe * a.batch), acc=tc / (spe * a.batch), val_loss=vl, val_acc=va,
               gamma=gamma_used if not latent else None, lr=lr_used, flip=flips / (spe * nk) if not latent else None,
               seconds=round(time.time() - t0, 1))
    print(json.dumps(rec), flush=True)
print('FINAL ' + json.dumps(dict(opt=a.opt, val_acc=va, seed=a.seed, args=vars(a), seconds=round(time.time() - t0, 1))), flush=True)
