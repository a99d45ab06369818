"""nplab.conv against PyTorch (float64, NCHW <-> NHWC).  Optional: skipped without torch
(the ``bench`` extra); the rest of the suite never needs it."""

from __future__ import annotations

import numpy as np
import pytest

from nplab import conv as C

torch = pytest.importorskip("torch")
F = torch.nn.functional


def _nchw(a):
    return torch.tensor(np.ascontiguousarray(a.transpose(0, 3, 1, 2)), requires_grad=True)


def _nhwc(t):
    return t.detach().numpy().transpose(0, 2, 3, 1)


@pytest.mark.parametrize(
    "xshape, k, f, stride, pad",
    [((2, 9, 7, 3), 3, 4, 1, 1), ((2, 11, 10, 2), 5, 3, 2, 2), ((1, 8, 8, 4), 2, 5, 3, 0)],
)
def test_conv_matches_torch(xshape, k, f, stride, pad):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(xshape)
    w = rng.standard_normal((k, k, xshape[3], f))
    b = rng.standard_normal(f)
    out, cache = C.conv_forward(x, w, b, {"stride": stride, "pad": pad, "col_budget_bytes": 1})
    dout = rng.standard_normal(out.shape)
    dx, dw, db = C.conv_backward(dout, cache)

    xt = _nchw(x)
    wt = torch.tensor(w.transpose(3, 2, 0, 1).copy(), requires_grad=True)
    bt = torch.tensor(b, requires_grad=True)
    yt = F.conv2d(xt, wt, bt, stride=stride, padding=pad)
    yt.backward(torch.tensor(dout.transpose(0, 3, 1, 2).copy()))
    np.testing.assert_allclose(out, _nhwc(yt), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(dx, _nhwc(xt.grad), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(dw, wt.grad.numpy().transpose(2, 3, 1, 0), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(db, bt.grad.numpy(), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("size, stride", [(2, 2), (3, 2), (3, 1)])
def test_pool_matches_torch(kind, size, stride):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 9, 8, 3))  # continuous values: no ties
    param = {"pool_height": size, "pool_width": size, "stride": stride}
    out, cache = getattr(C, f"{kind}_pool_forward")(x, param)
    dout = rng.standard_normal(out.shape)
    dx = getattr(C, f"{kind}_pool_backward")(dout, cache)
    xt = _nchw(x)
    pool = F.max_pool2d if kind == "max" else F.avg_pool2d
    yt = pool(xt, size, stride)
    yt.backward(torch.tensor(dout.transpose(0, 3, 1, 2).copy()))
    np.testing.assert_allclose(out, _nhwc(yt), rtol=1e-12)
    np.testing.assert_allclose(dx, _nhwc(xt.grad), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("norm", ["batch", "group"])
def test_spatial_norms_match_torch(norm):
    rng = np.random.default_rng(2)
    x = 2 * rng.standard_normal((3, 5, 4, 6)) + 1
    gamma, beta = rng.standard_normal(6), rng.standard_normal(6)
    if norm == "batch":
        out, cache = C.spatial_batchnorm_forward(x, gamma, beta, {"mode": "train"})
        backward = C.spatial_batchnorm_backward
    else:
        out, cache = C.spatial_groupnorm_forward(x, gamma, beta, 3)
        backward = C.spatial_groupnorm_backward
    dout = rng.standard_normal(out.shape)
    dx, dgamma, dbeta = backward(dout, cache)
    xt = _nchw(x)
    gt = torch.tensor(gamma, requires_grad=True)
    bt = torch.tensor(beta, requires_grad=True)
    if norm == "batch":
        yt = F.batch_norm(xt, None, None, gt, bt, training=True, eps=1e-5)
    else:
        yt = F.group_norm(xt, 3, gt, bt, eps=1e-5)
    yt.backward(torch.tensor(dout.transpose(0, 3, 1, 2).copy()))
    np.testing.assert_allclose(out, _nhwc(yt), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(dx, _nhwc(xt.grad), rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(dgamma, gt.grad.numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(dbeta, bt.grad.numpy(), rtol=1e-10, atol=1e-10)
