"""Network D (bench/programs/network_d.tfe) trained for one epoch in numpy f64, for comparison
with `bench networks-epoch`, which prints the held-out count of the same training on shares.

Usage: python3 bench/tools/network_d_f64.py DIR, where DIR is the scratch data directory that
`bench networks-epoch` leaves in the system temp directory (tfe-bench-networks-PID): it holds the
MNIST split of examples/data and the starting weights the harness drew.
Measured 2026-11-23: 502/1000 here and 502/1000 on shares."""
import numpy as np, gzip, sys
D=sys.argv[1]
def rd(p):
    f=gzip.open(p,'rt') if p.endswith('.gz') else open(p)
    lines=f.read().strip().split('\n')
    try: float(lines[0].split(',')[0])
    except: lines=lines[1:]
    return np.array([[float(v) for v in l.split(',')] for l in lines])
x=np.vstack([rd(D+'/alice/mnist_x.csv.gz'),rd(D+'/bob/mnist_x.csv.gz')])/255
y=np.vstack([rd(D+'/alice/mnist_y.csv.gz'),rd(D+'/bob/mnist_y.csv.gz')])
k1=rd(D+'/analyst/net_d_k1.csv'); w2=rd(D+'/analyst/net_d_w2.csv'); w3=rd(D+'/analyst/net_d_w3.csv')
c1=np.zeros(5); b2=np.zeros(100); b3=np.zeros(10)
tx=rd(D+'/analyst/mnist_test_x.csv.gz')/255; ty=rd(D+'/analyst/mnist_test_y.csv').ravel()
def im2col(X):
    n=X.shape[0]; img=X.reshape(n,28,28); p=np.pad(img,((0,0),(2,2),(2,2)))
    cols=np.zeros((n,14,14,25))
    for ky in range(5):
        for kx in range(5):
            cols[:,:,:,ky*5+kx]=p[:,ky:ky+28:2,kx:kx+28:2]
    return cols.reshape(n*196,25)
P=[k1,c1,w2,b2,w3,b3]; V=[np.zeros_like(p) for p in P]
for i in range(len(x)//128):
    xi=x[i*128:(i+1)*128]; yi=y[i*128:(i+1)*128]
    cols=im2col(xi); h1=(cols@P[0]+P[1]).reshape(128,980); a1=np.maximum(h1,0)
    h2=a1@P[2]+P[3]; a2=np.maximum(h2,0); z=a2@P[4]+P[5]
    e=np.exp(z-z.max(1,keepdims=True)); p=e/e.sum(1,keepdims=True); dz=(p-yi)/128
    dh2=dz@P[4].T*(h2>0); dh1=(dh2@P[2].T*(h1>0))
    d1=dh1.reshape(128*196,5)
    G=[cols.T@d1,d1.sum(0),a1.T@dh2,dh2.sum(0),a2.T@dz,dz.sum(0)]
    for k in range(6):
        V[k]=0.9*V[k]+G[k]; P[k]=P[k]-0.01*V[k]
h1=(im2col(tx)@P[0]+P[1]).reshape(len(tx),980); a2=np.maximum(np.maximum(h1,0)@P[2]+P[3],0)
print('f64 network D after one epoch:', ((a2@P[4]+P[5]).argmax(1)==ty).sum())
