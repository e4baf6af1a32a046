# An independent implementation of the project's CIFAR-10 protocol in PyTorch, to cross-check the TypeScript
# runs. No code is shared with the TypeScript implementation; what it implements, from the project's protocol:
#
# Data     the first N images of each class of the training split in file order (the stored order), pad-4 random
#          crop + horizontal flip on the raw image (padding = raw 0), x/127.5 - 1. Per-epoch validation on the first
#          M images per class of the test split (--test-per-class; 0: all of it), or on the N..N+H-1-th images per
#          class of the training split (--holdout-per-class: the calibration's split, which also gives the final score).
# Model    BinaryNet (first conv 'valid' on the real-valued input, max-pool before BN, BN without scale, momentum
#          --bn-momentum, eps 1e-3, ste_sign on every other layer's input, softmax cross-entropy), kernels:
#            Bop           kernels used as they are (glorot-uniform at step 0, +-1 after Bop's first step)
#            latent        ste_sign on latent kernels clipped to [-1, 1] after every step (the paper's baseline)
#            real-hidden   the reproducibility report's code baseline: the first conv as 'latent', every later
#                          kernel (the last dense included) real-valued and unconstrained
#          Dropout (--dropout p, inverted): 'afterBn' after each block's BN but the last; 'afterLayer' directly after
#          each quantized conv / dense layer but the last, before pooling and BN.
# BN       Keras BatchNormalization: training normalizes with the batch mean and biased variance; moving statistics
#          mu <- m mu + (1 - m) mu_B, var <- m var + (1 - m) var_B with the unbiased batch variance for conv layers
#          (Keras' fused 4-D kernel) and the biased one for dense layers; inference uses the moving statistics.
# Bop      m <- (1 - g) m + g grad;  w <- sign(-sign(w m - tau) w), sign(0) = +1: a weight flips iff w m > tau
#          (the paper's code); Adam (below) on the BN betas.
# Adam     Keras (TF 2) form: lr_t = lr sqrt(1 - b2^t) / (1 - b1^t); w <- w - lr_t mult m / (sqrt(v) + 1e-7), on every
#          trainable variable; --xavier multiplies the lr of each binary (latent) kernel by sqrt((fan_in + fan_out)/1.5).
# Schedules  staircase in optimizer steps: v0 * decay^(step // every) (every 0: constant).
# Score    after the last epoch the test split is scored twice: 'raw' with the moving BN statistics training left,
#          then 'settled': with the weights fixed, every BN's moving mean and variance replaced by the plain average of
#          its per-batch statistics over one pass of the training subset in stored order (full batches of --batch, the
#          remainder dropped; no augmentation, dropout off).
#
# Run (Debian's python3-torch): /usr/bin/python3 reference/torch_bop.py --data DIR --opt bop --gamma 1e-3 \
#   --gamma-decay-steps 700 --tau 1e-6 --width 0.125 --train-per-class 700 --epochs 10 --seed 0
# DIR holds the official CIFAR-10 .bin files (data/cifar10/<source>/ after `npm run data -- cifar10`).
# Prints one JSON line per epoch and a final line 'FINAL {...}' (test_acc: settled, test_acc_raw: moving statistics).
# reference/check_torch_bop.py checks the pieces (settling, layer order, kernel kinds, Adam, Bop) on small inputs.
import argparse
import json
import math
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='BinaryNet on CIFAR-10 (the project protocol) in PyTorch')
    p.add_argument('--data', required=True, help='folder with the official CIFAR-10 .bin files')
    p.add_argument('--opt', choices=['bop', 'adam'], required=True)
    p.add_argument('--kernels', choices=['binary', 'real-hidden'], default='binary',
                   help="Adam runs: 'binary' latent kernels (the paper's baseline) or 'real-hidden' (the report's code)")
    p.add_argument('--width', type=float, default=0.125)
    p.add_argument('--train-per-class', type=int, default=700)
    p.add_argument('--holdout-per-class', type=int, default=0,
                   help='validate (and score) on the next N per class of the training split instead of the test split')
    p.add_argument('--test-per-class', type=int, default=0,
                   help='per-epoch validation on the first N per class of the test split (0: all of it)')
    p.add_argument('--epochs', type=int, default=10)
    p.add_argument('--batch', type=int, default=50)
    p.add_argument('--gamma', type=float, default=1e-4)
    p.add_argument('--gamma-decay', type=float, default=0.1)
    p.add_argument('--gamma-decay-steps', type=int, default=0)
    p.add_argument('--tau', type=float, default=1e-8)
    p.add_argument('--lr', type=float, default=0.01)
    p.add_argument('--lr-decay', type=float, default=0.1)
    p.add_argument('--lr-decay-steps', type=int, default=0)
    p.add_argument('--xavier', action='store_true')
    p.add_argument('--bn-momentum', type=float, default=0.99)
    p.add_argument('--dropout', type=float, default=0.0)
    p.add_argument('--dropout-placement', choices=['afterBn', 'afterLayer'], default='afterBn')
    p.add_argument('--no-augment', action='store_true')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--threads', type=int, default=1)
    a = p.parse_args(argv)
    if a.kernels == 'real-hidden' and a.opt != 'adam':
        p.error('--kernels real-hidden is an Adam baseline (Bop trains binary kernels only)')
    if not 0 <= a.bn_momentum < 1:
        p.error(f'--bn-momentum {a.bn_momentum}: must be in [0, 1)')
    if not 0 <= a.dropout < 1:
        p.error(f'--dropout {a.dropout}: must be in [0, 1)')
    for k in ('train_per_class', 'epochs', 'batch'):
        if getattr(a, k) < 1:
            p.error(f"--{k.replace('_', '-')} {getattr(a, k)}: must be >= 1")
    return a


# ---------------------------------------------------------------------------------------------------------------
# Data

def read_batches(data, files):
    """Images (N, 32, 32, 3) uint8 and labels of the official CIFAR-10 binary files (1 label byte + 3072 CHW bytes)."""
    for f in files:
        if not os.path.exists(os.path.join(data, f)):
            raise SystemExit(f'{os.path.join(data, f)} not found: run `npm run data -- cifar10` and pass its folder as --data')
    raw = np.concatenate([np.fromfile(os.path.join(data, f), dtype=np.uint8).reshape(-1, 3073) for f in files])
    return raw[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).copy(), raw[:, 0].astype(np.int64)


def per_class(x, y, start, n):
    """Images start..start+n-1 of each class, in file order."""
    idx = np.concatenate([np.where(y == c)[0][start:start + n] for c in range(10)])
    idx.sort()
    if len(idx) != 10 * n:
        raise SystemExit(f'CIFAR-10 has fewer than {start + n} images of some class')
    return x[idx], y[idx]


def to_tensor(x):
    """uint8 NHWC -> float NCHW in [-1, 1]."""
    return torch.from_numpy(np.ascontiguousarray(x)).permute(0, 3, 1, 2).float() / 127.5 - 1


def augment(x, rng):
    """Pad 4 with raw 0, random 32x32 crop, random horizontal flip."""
    n = len(x)
    pad = np.zeros((n, 40, 40, 3), np.uint8)
    pad[:, 4:36, 4:36] = x
    oy, ox = rng.integers(0, 9, n), rng.integers(0, 9, n)
    out = np.stack([pad[i, oy[i]:oy[i] + 32, ox[i]:ox[i] + 32] for i in range(n)])
    flip = rng.random(n) < 0.5
    out[flip] = out[flip, :, ::-1]
    return out


# ---------------------------------------------------------------------------------------------------------------
# Layers

def lsign(x):
    """Larq's sign: sign(sign(x) + 0.1), i.e. +1 for x >= 0 (sign(0) = +1), -1 otherwise."""
    return torch.sign(x).add_(0.1).sign_()


class SteSign(torch.autograd.Function):
    """Forward sign(x) (sign(0) = +1); backward the gradient where |x| <= 1, 0 elsewhere (Larq's ste_sign)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return lsign(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * (x.abs() <= 1).to(g.dtype)


def glorot_(w, fan_in, fan_out):
    lim = math.sqrt(6 / (fan_in + fan_out))
    with torch.no_grad():
        w.uniform_(-lim, lim)


class QConv(nn.Module):
    """3x3 conv without bias; mode 'bop' (kernel as is), 'latent' (ste_sign of a clipped kernel) or 'real'."""

    def __init__(self, cin, cout, pad, binarize_input, mode):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(cout, cin, 3, 3))
        glorot_(self.weight, 9 * cin, 9 * cout)
        self.pad, self.binarize_input, self.mode, self.fans = pad, binarize_input, mode, (9 * cin, 9 * cout)

    def forward(self, x):
        w = SteSign.apply(self.weight) if self.mode == 'latent' else self.weight
        return F.conv2d(SteSign.apply(x) if self.binarize_input else x, w, None, 1, self.pad)


class QDense(nn.Module):
    """Dense without bias on the ste_sign of its input; kernel mode as QConv."""

    def __init__(self, din, dout, mode):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(dout, din))
        glorot_(self.weight, din, dout)
        self.mode, self.fans = mode, (din, dout)

    def forward(self, x):
        w = SteSign.apply(self.weight) if self.mode == 'latent' else self.weight
        return F.linear(SteSign.apply(x), w)


class KerasBN(nn.Module):
    """Keras BatchNormalization(scale=False, epsilon=1e-3) over channels (dim 1); see the module comment.
    `override`, when set, replaces the momentum in the moving-statistics update (the settling pass)."""

    def __init__(self, c, momentum, conv):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(c))
        self.register_buffer('moving_mean', torch.zeros(c))
        self.register_buffer('moving_var', torch.ones(c))
        self.momentum, self.conv, self.eps, self.override = momentum, conv, 1e-3, None

    def forward(self, x):
        m = self.momentum if self.override is None else self.override
        if self.conv:
            # torch's kernel: normalizes with the biased batch variance and updates the running variance with the
            # unbiased one, as Keras' fused 4-D kernel; torch's momentum is Keras' 1 - m
            return F.batch_norm(x, self.moving_mean, self.moving_var, None, self.bias, self.training, 1 - m, self.eps)
        if not self.training:
            return F.batch_norm(x, self.moving_mean, self.moving_var, None, self.bias, False, 0.0, self.eps)
        mean = x.mean(0)
        var = x.var(0, unbiased=False)
        with torch.no_grad():
            self.moving_mean.mul_(m).add_((1 - m) * mean)
            self.moving_var.mul_(m).add_((1 - m) * var)
        return (x - mean) * torch.rsqrt(var + self.eps) + self.bias


def binarynet(width, opt, kernels, bn_momentum, dropout, placement):
    """BinaryNet at `width` as an nn.Sequential (layer order as the module comment)."""
    u = lambda n: max(1, round(n * width))
    mode = lambda i: 'bop' if opt == 'bop' else ('latent' if kernels == 'binary' or i == 0 else 'real')
    layers = []

    def drop(where):
        if dropout > 0 and where == placement:
            layers.append(nn.Dropout(dropout))

    convs = [(3, u(128), False), (u(128), u(128), True), (u(128), u(256), False), (u(256), u(256), True),
             (u(256), u(512), False), (u(512), u(512), True)]
    for i, (cin, cout, pool) in enumerate(convs):
        layers.append(QConv(cin, cout, 0 if i == 0 else 1, i > 0, mode(i)))
        drop('afterLayer')
        if pool:
            layers.append(nn.MaxPool2d(2))
        layers.append(KerasBN(cout, bn_momentum, True))
        drop('afterBn')
    layers.append(nn.Flatten())
    dims = [u(512) * 9, u(1024), u(1024), 10]
    for j in range(3):
        last = j == 2
        layers.append(QDense(dims[j], dims[j + 1], mode(6 + j)))
        if not last:
            drop('afterLayer')
        layers.append(KerasBN(dims[j + 1], bn_momentum, False))
        if not last:
            drop('afterBn')
    return nn.Sequential(*layers)


# ---------------------------------------------------------------------------------------------------------------
# Optimizers

class KerasAdam:
    """Adam as Keras' TF 2 update (eps added to sqrt(v) before the bias-corrected step); per-parameter lr multipliers."""

    def __init__(self, params, mults, b1=0.9, b2=0.999, eps=1e-7):
        self.params, self.mults, self.b1, self.b2, self.eps, self.t = params, mults, b1, b2, eps, 0
        self.m = [torch.zeros_like(p) for p in params]
        self.v = [torch.zeros_like(p) for p in params]

    @torch.no_grad()
    def step(self, lr):
        self.t += 1
        lr_t = lr * math.sqrt(1 - self.b2 ** self.t) / (1 - self.b1 ** self.t)
        for p, mult, m, v in zip(self.params, self.mults, self.m, self.v):
            g = p.grad
            m.mul_(self.b1).add_((1 - self.b1) * g)
            v.mul_(self.b2).add_((1 - self.b2) * g * g)
            p.sub_(lr_t * mult * m / (v.sqrt() + self.eps))


@torch.no_grad()
def bop_step(w, m, g, gamma, tau):
    """One Bop step in place; returns the number of weights whose sign changed."""
    m.mul_(1 - gamma).add_(gamma * g)
    new = lsign(-torch.sign(w * m - tau) * w)
    flips = int((lsign(w) != new).sum())
    w.copy_(new)
    return flips


def stair(v0, decay, every, step):
    return v0 * decay ** (step // every) if every else v0


# ---------------------------------------------------------------------------------------------------------------
# Scoring

@torch.no_grad()
def evaluate(model, x, y):
    """Mean loss and accuracy in inference mode (moving BN statistics, no dropout)."""
    was = model.training
    model.eval()
    correct, loss = 0, 0.0
    for s in range(0, len(x), 500):
        out = model(to_tensor(x[s:s + 500]))
        yb = torch.from_numpy(y[s:s + 500])
        loss += F.cross_entropy(out, yb, reduction='sum').item()
        correct += int((out.argmax(1) == yb).sum())
    model.train(was)
    return loss / len(x), correct / len(x)


@torch.no_grad()
def settle(model, x, batch):
    """Replaces every BN's moving statistics by the plain average of its per-batch statistics over x in stored
    order (full batches only, no augmentation, dropout off); returns the number of batches."""
    bns = [m for m in model.modules() if isinstance(m, KerasBN)]
    batches = len(x) // batch
    if not bns:
        return 0
    if batches < 1:
        raise ValueError(f'settle: batch {batch} is larger than the training subset ({len(x)})')
    was = model.training
    model.train()
    for d in model.modules():
        if isinstance(d, nn.Dropout):
            d.eval()
    try:
        for k in range(batches):
            for b in bns:
                b.override = k / (k + 1)
            model(to_tensor(x[k * batch:(k + 1) * batch]))
    finally:
        for b in bns:
            b.override = None
        model.train(was)
    return batches


# ---------------------------------------------------------------------------------------------------------------

def main(argv=None):
    a = parse_args(argv)
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)

    xtr_all, ytr_all = read_batches(a.data, [f'data_batch_{i}.bin' for i in range(1, 6)])
    xtr, ytr = per_class(xtr_all, ytr_all, 0, a.train_per_class)
    if a.holdout_per_class:
        xva, yva = per_class(xtr_all, ytr_all, a.train_per_class, a.holdout_per_class)
        xte, yte = xva, yva
    else:
        xte, yte = read_batches(a.data, ['test_batch.bin'])
        xva, yva = per_class(xte, yte, 0, a.test_per_class) if a.test_per_class else (xte, yte)

    model = binarynet(a.width, a.opt, a.kernels, a.bn_momentum, a.dropout, a.dropout_placement)
    model.train()
    qlayers = [m for m in model if isinstance(m, (QConv, QDense))]
    bop_w = [m.weight for m in qlayers if m.mode == 'bop']
    clipped = [m.weight for m in qlayers if m.mode == 'latent']
    betas = [m.bias for m in model if isinstance(m, KerasBN)]
    if a.opt == 'adam':
        params = [m.weight for m in qlayers] + betas
        mults = [math.sqrt(sum(m.fans) / 1.5) if a.xavier and m.mode == 'latent' else 1.0 for m in qlayers] + [1.0] * len(betas)
    else:
        params, mults = betas, [1.0] * len(betas)
    adam = KerasAdam(params, mults)
    mom = [torch.zeros_like(w) for w in bop_w]

    t0 = time.time()
    spe = len(xtr) // a.batch
    if spe < 1:
        raise SystemExit(f'--batch {a.batch} is larger than the training subset ({len(xtr)} images)')
    step = 0
    nk = sum(w.numel() for w in bop_w)
    for epoch in range(1, a.epochs + 1):
        perm = rng.permutation(len(xtr))
        tl, tc, flips = 0.0, 0, 0
        gamma_used = stair(a.gamma, a.gamma_decay, a.gamma_decay_steps, step)
        lr_used = stair(a.lr, a.lr_decay, a.lr_decay_steps, step)
        for s in range(spe):
            idx = perm[s * a.batch:(s + 1) * a.batch]
            xb = to_tensor(xtr[idx] if a.no_augment else augment(xtr[idx], rng))
            yb = torch.from_numpy(ytr[idx])
            out = model(xb)
            loss = F.cross_entropy(out, yb)
            for p in model.parameters():
                p.grad = None
            loss.backward()
            if not math.isfinite(loss.item()):
                raise SystemExit(f'loss became {loss.item()} at epoch {epoch}, step {s + 1}')
            adam.step(stair(a.lr, a.lr_decay, a.lr_decay_steps, step))
            gam = stair(a.gamma, a.gamma_decay, a.gamma_decay_steps, step)
            for w, m in zip(bop_w, mom):
                flips += bop_step(w, m, w.grad, gam, a.tau)
            with torch.no_grad():
                for w in clipped:
                    w.clamp_(-1, 1)
            tl += loss.item()
            tc += int((out.argmax(1) == yb).sum())
            step += 1
        vl, va = evaluate(model, xva, yva)
        rec = dict(epoch=epoch, step=step, loss=tl / spe, acc=tc / (spe * a.batch), val_loss=vl, val_acc=va,
                   gamma=gamma_used if a.opt == 'bop' else None, lr=lr_used,
                   flip=flips / (spe * nk) if nk else None, seconds=round(time.time() - t0, 1))
        print(json.dumps(rec), flush=True)

    test_loss_raw, test_acc_raw = evaluate(model, xte, yte)
    batches = settle(model, xtr, a.batch)
    test_loss, test_acc = evaluate(model, xte, yte)
    final = dict(opt=a.opt, kernels=a.kernels, seed=a.seed, acc=rec['acc'], val_acc=va, test_acc=test_acc,
                 test_acc_raw=test_acc_raw, test_loss=test_loss, test_loss_raw=test_loss_raw, test_n=len(xte),
                 settle_batches=batches, torch=torch.__version__, args=vars(a), seconds=round(time.time() - t0, 1))
    print('FINAL ' + json.dumps(final), flush=True)


if __name__ == '__main__':
    main()
