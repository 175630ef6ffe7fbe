# coding: utf-8
import sys, os
sys.path.append(os.pardir)  # 為了導入父目錄的文件而進行的設定
import numpy as np
from common.layers import *
from common.gradient import numerical_gradient
from collections import OrderedDict


class TwoLayerNet:

    def __init__(self, input_size, hidden_size, output_size, weight_init_std = 0.01):
        # 初始化權重
        self.params = {}
        self.params['W1'] = weight_init_std * np.random.randn(input_size, hidden_size)      # np.random.randn平均值為0、均方差為1的正態分布數據
        self.params['b1'] = np.zeros(hidden_size)
        self.params['W2'] = weight_init_std * np.random.randn(hidden_size, output_size)
        self.params['b2'] = np.zeros(output_size)

        # 生成層
        self.layers = OrderedDict()
        #仿射層1, Affine1, a1 = x@W1 + b1
        self.layers['Affine1'] = Affine(self.params['W1'], self.params['b1'])
        #激活層1, Relu1, z1 = Relu(a1)
        self.layers['Relu1'] = Relu()
        #仿射層2, Affine2, a2 = z1@W2 + b2
        self.layers['Affine2'] = Affine(self.params['W2'], self.params['b2'])

        #最后一層, SoftmaxWithLoss, y = softmax(a2), loss = cross_entropy_error(y, t)
        self.lastLayer = SoftmaxWithLoss()

    def predict(self, x):
        # 正向傳播,上一層的輸出為下一層的輸入。self.layers按先后順序依次為各生成層
        for layer in self.layers.values():          # self.layers.values()是按順序排列的值,self.layers.keys()是按順序排列的鍵
            x = layer.forward(x)

        return x

    # x:輸入數據, t:監督數據
    def loss(self, x, t):
        y = self.predict(x)
        return self.lastLayer.forward(y, t)     #返回softmax-with-loss的值

    def accuracy(self, x, t):
        y = self.predict(x)
        y = np.argmax(y, axis=1)                #每組數據輸出值(每一行)中最大值(即概率最大值)的索引號,二維向量變一維數組
        if t.ndim != 1 : t = np.argmax(t, axis=1)   # 如果t不是一維數組,將其轉換成非one-hot格式

        # y == t 返回一個bool數組,y和t相同位置的元素如果相等,bool數組同位置的值為True,其它為False
        # np.sum(y == t)返回bool數組中True的數量。x.shape[0]為batch_size
        accuracy = np.sum(y == t) / float(x.shape[0])
        return accuracy

    # x:輸入數據, t:監督數據
    def numerical_gradient(self, x, t):
        loss_W = lambda W: self.loss(x, t)

        grads = {}
        grads['W1'] = numerical_gradient(loss_W, self.params['W1'])
        grads['b1'] = numerical_gradient(loss_W, self.params['b1'])
        grads['W2'] = numerical_gradient(loss_W, self.params['W2'])
        grads['b2'] = numerical_gradient(loss_W, self.params['b2'])

        return grads

    def gradient(self, x, t):
        # forward
        self.loss(x, t)

        # backward
        dout = 1
        dout = self.lastLayer.backward(dout)

        layers = list(self.layers.values())
        layers.reverse()            #list倒序
        for layer in layers:
            dout = layer.backward(dout)     #下一層backward的輸出dout作為上一層backward的輸入,同時計算各Affine層的dW和db

        # 設定
        grads = {}
        grads['W1'], grads['b1'] = self.layers['Affine1'].dW, self.layers['Affine1'].db
        grads['W2'], grads['b2'] = self.layers['Affine2'].dW, self.layers['Affine2'].db

        return grads
