# Checks of the pieces of reference/torch_bop.py on small inputs, each against a value computed here another way:
#   settling      every BN's moving statistics = the plain average of the per-batch mean and variance of its input
#                 (recorded with forward hooks; unbiased variance for conv BNs, biased for dense BNs), dropout off
#   layer order   dropout 'afterLayer' directly after each quantized layer but the last, before pooling and BN;
#                 'afterBn' after each BN but the last
#   kernels       real-hidden: only the first conv is ste_sign of a clipped kernel; every later kernel is used as is
#   Adam          one and two Keras-form steps against the closed form
#   Bop           flips exactly where w m > tau, +1 where w m = tau
#   BN            training output = (x - mean) / sqrt(biased var + 1e-3) + beta; moving update with momentum m
# Run: /usr/bin/python3 reference/check_torch_bop.py   (prints 'ok <check>' per check; exits non-zero on a failure)
import math
import os
import sys

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_bop as tb  # noqa: E402


def close(a, b, tol, what):
    d = float((torch.as_tensor(a) - torch.as_tensor(b)).abs().max())
    if not d <= tol:
        raise AssertionError(f'{what}: max difference {d} > {tol}')


def check_settle():
    torch.manual_seed(0)
    model = tb.binarynet(0.0625, 'adam', 'binary', 0.99, 0.5, 'afterBn')
    x = np.random.default_rng(0).integers(0, 256, (70, 32, 32, 3), dtype=np.uint8)
    bns = [m for m in model.modules() if isinstance(m, tb.KerasBN)]
    seen = {id(b): [] for b in bns}
    hooks = [b.register_forward_hook(lambda mod, inp, out: seen[id(mod)].append(inp[0].detach().clone())) for b in bns]
    for b in bns:  # statistics training left, to be replaced entirely
        b.moving_mean.fill_(5.0)
        b.moving_var.fill_(7.0)
    n = tb.settle(model, x, 20)
    for h in hooks:
        h.remove()
    assert n == 3, f'settle used {n} batches of 20 out of 70, expected 3 (remainder dropped)'
    for b in bns:
        xs = seen[id(b)]
        assert len(xs) == 3
        dims = (0, 2, 3) if b.conv else (0,)
        mean = torch.stack([t.mean(dims) for t in xs]).mean(0)
        var = torch.stack([t.var(dims, unbiased=b.conv) for t in xs]).mean(0)
        close(b.moving_mean, mean, 1e-5, 'settled moving mean')
        close(b.moving_var, var, 1e-4 * float(var.abs().max()) + 1e-6, 'settled moving variance')
        assert b.override is None
    # dropout was off: the inputs of the first BN after a dropout equal those without dropout
    model2 = tb.binarynet(0.0625, 'adam', 'binary', 0.99, 0.0, 'afterBn')
    with torch.no_grad():
        for p1, p2 in zip(model.parameters(), model2.parameters()):
            p2.copy_(p1)
    tb.settle(model2, x, 20)
    for b1, b2 in zip(bns, [m for m in model2.modules() if isinstance(m, tb.KerasBN)]):
        close(b1.moving_mean, b2.moving_mean, 1e-6, 'settling with dropout layers present')
    assert model.training, 'settle must leave the model in the mode it found'


def kinds(model):
    out = []
    for m in model:
        out.append({tb.QConv: 'Q', tb.QDense: 'Q', nn.Dropout: 'D', nn.MaxPool2d: 'P', tb.KerasBN: 'B', nn.Flatten: 'F'}[type(m)])
    return ''.join(out)


def check_layer_order():
    assert kinds(tb.binarynet(0.0625, 'bop', 'binary', 0.99, 0, 'afterBn')) == 'QBQPBQBQPBQBQPBFQBQBQB'
    assert kinds(tb.binarynet(0.0625, 'bop', 'binary', 0.99, 0.25, 'afterBn')) == 'QBDQPBDQBDQPBDQBDQPBDFQBDQBDQB'
    assert kinds(tb.binarynet(0.0625, 'bop', 'binary', 0.99, 0.25, 'afterLayer')) == 'QDBQDPBQDBQDPBQDBQDPBFQDBQDBQB'
    m = tb.binarynet(0.125, 'adam', 'real-hidden', 0.999, 0, 'afterBn')
    assert all(b.momentum == 0.999 for b in m if isinstance(b, tb.KerasBN))
    shapes = [tuple(q.weight.shape) for q in m if isinstance(q, (tb.QConv, tb.QDense))]
    assert shapes == [(16, 3, 3, 3), (16, 16, 3, 3), (32, 16, 3, 3), (32, 32, 3, 3), (64, 32, 3, 3), (64, 64, 3, 3),
                      (128, 576), (128, 128), (10, 128)], shapes


def check_kernels():
    torch.manual_seed(1)
    m = tb.binarynet(0.0625, 'adam', 'real-hidden', 0.999, 0, 'afterBn')
    q = [l for l in m if isinstance(l, (tb.QConv, tb.QDense))]
    assert [l.mode for l in q] == ['latent'] + ['real'] * 8
    assert [l.mode for l in tb.binarynet(0.0625, 'adam', 'binary', 0.99, 0, 'afterBn') if isinstance(l, (tb.QConv, tb.QDense))] == ['latent'] * 9
    assert [l.mode for l in tb.binarynet(0.0625, 'bop', 'binary', 0.99, 0, 'afterBn') if isinstance(l, (tb.QConv, tb.QDense))] == ['bop'] * 9
    x = torch.randn(2, 3, 32, 32)
    w = q[0].weight
    close(q[0](x), torch.nn.functional.conv2d(x, torch.where(w >= 0, 1.0, -1.0)), 1e-5, 'first conv: ste_sign kernel')
    h = torch.randn(2, 8, 15, 15)
    k = q[1].weight
    close(q[1](h), torch.nn.functional.conv2d(torch.where(h >= 0, 1.0, -1.0), k, None, 1, 1), 1e-5, 'second conv: real kernel, binary input')
    d = torch.randn(3, 288)
    close(q[8](torch.randn(3, 64)).shape[1], 10, 0, 'last dense')
    close(q[6](d), torch.where(d >= 0, 1.0, -1.0) @ q[6].weight.t(), 1e-5, 'dense: real kernel, binary input')


def check_adam():
    p = nn.Parameter(torch.tensor([0.5, -0.2, 0.0]))
    g1, g2 = torch.tensor([0.1, -2.0, 1e-9]), torch.tensor([-0.3, 0.5, 0.0])
    opt = tb.KerasAdam([p], [3.0])
    p.grad = g1.clone()
    opt.step(0.01)
    p.grad = g2.clone()
    opt.step(0.005)
    m1, v1 = 0.1 * g1, 0.001 * g1 ** 2
    w1 = torch.tensor([0.5, -0.2, 0.0]) - 0.01 * math.sqrt(1 - 0.999) / (1 - 0.9) * 3.0 * m1 / (v1.sqrt() + 1e-7)
    m2, v2 = 0.9 * m1 + 0.1 * g2, 0.999 * v1 + 0.001 * g2 ** 2
    w2 = w1 - 0.005 * math.sqrt(1 - 0.999 ** 2) / (1 - 0.9 ** 2) * 3.0 * m2 / (v2.sqrt() + 1e-7)
    close(p.detach(), w2, 1e-7, 'Keras Adam, two steps')


def check_bop():
    w = torch.tensor([1.0, 1.0, -1.0, -1.0, 1.0, 0.3])
    m = torch.tensor([0.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    g = torch.tensor([3.0, 1.0, -3.0, 2.0, 2.0, -1.0])
    tau = 0.2
    flips = tb.bop_step(w, m, g, 0.1, tau)  # m = 0.1 g: w m = 0.3, 0.1, 0.3, -0.2, 0.2 (= tau), -0.03
    close(m, 0.1 * g, 1e-7, 'Bop moving average')
    close(w, torch.tensor([-1.0, 1.0, 1.0, -1.0, 1.0, 1.0]), 0, 'Bop flips (w m > tau), +1 at w m = tau')
    assert flips == 2, flips


def check_bn():
    torch.manual_seed(2)
    b = tb.KerasBN(4, 0.9, True)
    with torch.no_grad():
        b.bias.copy_(torch.tensor([0.1, 0.2, 0.3, 0.4]))
    x = torch.randn(5, 4, 3, 3) * 2 + 1
    y = b(x)
    mean, var = x.mean((0, 2, 3)), x.var((0, 2, 3), unbiased=False)
    close(y, (x - mean.view(1, -1, 1, 1)) / torch.sqrt(var.view(1, -1, 1, 1) + 1e-3) + b.bias.view(1, -1, 1, 1), 1e-5, 'BN training output')
    close(b.moving_mean, 0.1 * mean, 1e-6, 'BN moving mean')
    close(b.moving_var, 0.9 + 0.1 * x.var((0, 2, 3), unbiased=True), 1e-6, 'BN moving variance (conv: unbiased)')
    d = tb.KerasBN(4, 0.9, False)
    z = torch.randn(6, 4)
    d(z)
    close(d.moving_var, 0.9 + 0.1 * z.var(0, unbiased=False), 1e-6, 'BN moving variance (dense: biased)')


if __name__ == '__main__':
    torch.set_num_threads(1)
    for name, f in [('settle', check_settle), ('layer order', check_layer_order), ('kernels', check_kernels),
                    ('adam', check_adam), ('bop', check_bop), ('batchnorm', check_bn)]:
        f()
        print(f'ok {name}', flush=True)
