# coding: utf-8
import numpy as np
from common.functions import *
from common.util import im2col, col2im


class Relu:
    def __init__(self):
        self.mask = None

    def forward(self, x):
        self.mask = (x <= 0)        # bool向量,元素≤0的位置為True,其余為False
        out = x.copy()              # 如果out = x,則out為x的內存地址引用,修改x也會改變out值
        out[self.mask] = 0          # out向量中x元素≤0的位置(為True位置)的值為0

        return out

    def backward(self, dout):
        dout[self.mask] = 0         # dx = ∂L/∂x = ∂L/∂out * ∂out/∂x = dout * ∂out/∂x,out為零的位置∂out/∂x為0,對應位置的dx=0
        dx = dout

        return dx


class Sigmoid:                      # sigmoid(x) = 1 / ( 1 + np.exp(-x))
    def __init__(self):
        self.out = None

    def forward(self, x):
        out = sigmoid(x)
        self.out = out      #定義全局變量self.out
        return out

    def backward(self, dout):
        # dx = ∂L/∂x = ∂L/∂out * ∂out/∂x = dout * ∂out/∂x = dout*(1-out)*out
        dx = dout * (1.0 - self.out) * self.out

        return dx


class Affine:
    '''定義Affine層,仿射層,即:out = X@W + b
    __init__(self, W, b): 初始化,輸入參數W,b
    '''
    def __init__(self, W, b):
        self.W =W
        self.b = b

        self.x = None
        self.original_x_shape = None
        # 權重和偏置參數的導數
        self.dW = None
        self.db = None

    def forward(self, x):
        '''forward(self, x): 正向傳遞,輸入參數x
        首先將x轉換成二維張量
        1. 若輸入是多維數據(如圖像的卷積層輸出,形狀為 (batch, C, H, W)),該操作將其展平為二維矩陣 (batch, C*H*W),使每個樣本變為一維向量,適配全連接的矩陣乘法 np.dot(x, W)。
        2. 若輸入已是二維(如普通全連接層的輸出),則保持原狀。
        '''
        self.original_x_shape = x.shape
        x = x.reshape(x.shape[0], -1)
        self.x = x

        out = np.dot(self.x, self.W) + self.b

        return out

    def backward(self, dout):
        '''out = X@W + b
        backward(self, dout): 反向傳遞,輸入參數dout,dout = ∂L/∂out,故:
        self.dW = ∂L/∂out * ∂out/∂W = (self.x.T)@dout
        self.db = ∂L/∂out * ∂out/∂b = np.sum(dout, axis=0)
        self.dx = ∂L/∂out * ∂out/∂x = dout@(self.W.T)
        '''
        dx = np.dot(dout, self.W.T)
        self.dW = np.dot(self.x.T, dout)
        self.db = np.sum(dout, axis=0)

        dx = dx.reshape(*self.original_x_shape)  # 還原輸入數據的形狀(對應張量)
        return dx


class SoftmaxWithLoss:
    '''loss = loss(y,t) 交叉熵損失函數
    y = softmax(x)
    '''
    def __init__(self):
        self.loss = None
        self.y = None # softmax的輸出
        self.t = None # 監督數據

    def forward(self, x, t):
        self.t = t
        self.y = softmax(x)
        self.loss = cross_entropy_error(self.y, self.t)

        return self.loss

    def backward(self, dout=1):
        batch_size = self.t.shape[0]
        if self.t.size == self.y.size: # 當數據t是one-hot-vector的情況
            dx = (self.y - self.t)
        else:                           #此時x.shape為(batch_size,)
            dx = self.y.copy()
            #dx = y - t,self.t為一維數組,其第i個元素即為第i組數據的正確值
            #dx只需在輸出y中,把第i組數據對應的輸出(第i行)的第self.t[i]個值減去1即可。
            '''
                 | 0, self.t[0] |
                 | 1, self.t[1] |
            dx   | 2, self.t[2] | -= 1,第一列由np.arange(batch_size)生成,n = batch_size - 1
                 | ......       |
                 | n, self.t[n] |
            如果將self.t轉換成one-hot格式,self.t在上述dx對應位置的值為1,其它都為0,即:
            temp_t = np.zeros_like(y)
            temp_t[np.arange(batch_size), self.t] = 1
            '''
            dx[np.arange(batch_size), self.t] -= 1

        return dx


class Dropout:
    """
    http://arxiv.org/abs/1207.0580
    """
    def __init__(self, dropout_ratio=0.5):
        self.dropout_ratio = dropout_ratio
        self.mask = None

    def forward(self, x, train_flg=True):
        if train_flg:
            self.mask = np.random.rand(*x.shape) > self.dropout_ratio
            return x * self.mask
        else:
            return x * (1.0 - self.dropout_ratio)

    def backward(self, dout):
        return dout * self.mask


class BatchNormalization:
    """
    http://arxiv.org/abs/1502.03167
    """
    def __init__(self, gamma, beta, momentum=0.9, running_mean=None, running_var=None):
        self.gamma = gamma
        self.beta = beta
        self.momentum = momentum
        self.input_shape = None # Conv層的情況下為4維,全連接層的情況下為2維

        # 測試時使用的平均值和方差
        self.running_mean = running_mean
        self.running_var = running_var

        # backward時使用的中間數據
        self.batch_size = None
        self.xc = None
        self.std = None
        self.dgamma = None
        self.dbeta = None

    def forward(self, x, train_flg=True):
        self.input_shape = x.shape
        if x.ndim != 2:
            N, C, H, W = x.shape
            x = x.reshape(N, -1)

        out = self.__forward(x, train_flg)

        return out.reshape(*self.input_shape)

    def __forward(self, x, train_flg):
        if self.running_mean is None:
            N, D = x.shape
            self.running_mean = np.zeros(D)
            self.running_var = np.zeros(D)

        if train_flg:
            mu = x.mean(axis=0)
            xc = x - mu
            var = np.mean(xc**2, axis=0)
            std = np.sqrt(var + 10e-7)
            xn = xc / std

            self.batch_size = x.shape[0]
            self.xc = xc
            self.xn = xn
            self.std = std
            self.running_mean = self.momentum * self.running_mean + (1-self.momentum) * mu
            self.running_var = self.momentum * self.running_var + (1-self.momentum) * var
        else:
            xc = x - self.running_mean
            xn = xc / ((np.sqrt(self.running_var + 10e-7)))

        out = self.gamma * xn + self.beta
        return out

    def backward(self, dout):
        if dout.ndim != 2:
            N, C, H, W = dout.shape
            dout = dout.reshape(N, -1)

        dx = self.__backward(dout)

        dx = dx.reshape(*self.input_shape)
        return dx

    def __backward(self, dout):
        dbeta = dout.sum(axis=0)
        dgamma = np.sum(self.xn * dout, axis=0)
        dxn = self.gamma * dout
        dxc = dxn / self.std
        dstd = -np.sum((dxn * self.xc) / (self.std * self.std), axis=0)
        dvar = 0.5 * dstd / self.std
        dxc += (2.0 / self.batch_size) * self.xc * dvar
        dmu = np.sum(dxc, axis=0)
        dx = dxc - dmu / self.batch_size

        self.dgamma = dgamma
        self.dbeta = dbeta

        return dx


class Convolution:
    def __init__(self, W, b, stride=1, pad=0):
        self.W = W          #卷積層過濾器,W.shape: (Filter_Num, Channel, Filter_Height, Filter_Width)
        self.b = b          #卷積層偏置,b.shape: (Filter_Num,)
        self.stride = stride
        self.pad = pad

        # 中間數據(backward時使用)
        self.x = None
        self.col = None
        self.col_W = None

        # 權重和偏置參數的梯度
        self.dW = None
        self.db = None

    def forward(self, x):
        FN, C, FH, FW = self.W.shape
        N, C, H, W = x.shape
        out_h = 1 + int((H + 2*self.pad - FH) / self.stride)        #列窗口數,卷積層輸出高度,Out_Height, OH
        out_w = 1 + int((W + 2*self.pad - FW) / self.stride)        #行窗口數,卷積層輸出寬度,Out_Width, OW

        col = im2col(x, FH, FW, self.stride, self.pad)      #col.shape: (N×OH×OW, C×FH×FW),卷積層對每個窗口與過濾器求乘積,然后所有通道求和
        col_W = self.W.reshape(FN, -1).T                    #col_W.shape: (C×FH×FW, FN)

        out = np.dot(col, col_W) + self.b                   #np.dot(col, col_W).shape: (N×OH×OW, FN), self.b.shape: (FN)
        out = out.reshape(N, out_h, out_w, -1).transpose(0, 3, 1, 2)    #(N, OH, OW, FN) ==> (N, FN, OH, OW)

        self.x = x
        self.col = col
        self.col_W = col_W

        return out

    def backward(self, dout):
        FN, C, FH, FW = self.W.shape                    #過濾器shape
        dout = dout.transpose(0,2,3,1).reshape(-1, FN)  #dout.shape:(N, FN, OH, OW) ==> (N, OH, OW, FN) ==> (N×OH×OW, FN)

        self.db = np.sum(dout, axis=0)
        self.dW = np.dot(self.col.T, dout)              # Out = self.col @ self.col_W   dW = self.col.T @ dout
        self.dW = self.dW.transpose(1, 0).reshape(FN, C, FH, FW)    # dW.shape: (C×FH×FW, FN) ==> (FN, C×FH×FW) ==> (FN, C, FH, FW)

        dcol = np.dot(dout, self.col_W.T)               # Out = self.col @ self.col_W   dcol = dout @ self.col_W.T  (N×OH×OW, FN) @ (FN, C×FH×FW) ==> (N×OH×OW, C×FH×FW)
        dx = col2im(dcol, self.x.shape, FH, FW, self.stride, self.pad)  # dcol ==> dx: (N×OH×OW, C×FH×FW) ==> (N, C, H, W)

        return dx


class Pooling:
    def __init__(self, pool_h, pool_w, stride=1, pad=0):
        self.pool_h = pool_h
        self.pool_w = pool_w
        self.stride = stride
        self.pad = pad

        self.x = None
        self.arg_max = None

    def forward(self, x):
        N, C, H, W = x.shape
        out_h = int(1 + (H - self.pool_h) / self.stride)
        out_w = int(1 + (W - self.pool_w) / self.stride)

        col = im2col(x, self.pool_h, self.pool_w, self.stride, self.pad)
        col = col.reshape(-1, self.pool_h*self.pool_w)

        arg_max = np.argmax(col, axis=1)
        out = np.max(col, axis=1)
        out = out.reshape(N, out_h, out_w, C).transpose(0, 3, 1, 2)

        self.x = x
        self.arg_max = arg_max

        return out

    def backward(self, dout):
        dout = dout.transpose(0, 2, 3, 1)

        pool_size = self.pool_h * self.pool_w
        dmax = np.zeros((dout.size, pool_size))
        dmax[np.arange(self.arg_max.size), self.arg_max.flatten()] = dout.flatten()
        dmax = dmax.reshape(dout.shape + (pool_size,))

        dcol = dmax.reshape(dmax.shape[0] * dmax.shape[1] * dmax.shape[2], -1)
        dx = col2im(dcol, self.x.shape, self.pool_h, self.pool_w, self.stride, self.pad)

        return dx
